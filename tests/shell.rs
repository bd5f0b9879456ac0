//! Shell conventions: completions, the man page, `--version`, `-` for standard input and
//! output, and the mastering steps a progress display shows.

mod common;

use std::sync::Mutex;

use common::*;
use mixdown::master::{self, Step};
use mixdown::session::{self, LoadOptions};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn completions_for_every_shell_name_the_commands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = mixdown().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        // (fish names long options without their dashes: `-l jobs`.)
        for word in ["mixdown", "render", "analyze", "init", "jobs", "force"] {
            assert!(script.contains(word), "{shell}: no {word:?} in the script");
        }
    }
    let out = mixdown().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_for_mixdown_and_each_command() {
    let out = mixdown().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH mixdown 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}: {page}");
    }
    for cmd in ["render", "check", "analyze", "init", "completions"] {
        assert!(
            page.contains(&format!("mixdown\\-{cmd}(1)")),
            "{cmd}: {page}"
        );
    }
    let out = mixdown().args(["man", "render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH mixdown-render 1"), "{page}");
    assert!(page.contains("\\-\\-jobs"), "{page}");
    let out = mixdown().args(["man", "mix"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("render"), "{}", stderr(&out));
}

#[test]
fn version_names_the_features_and_the_target() {
    let out = mixdown().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("mixdown {}", env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    let features = lines.iter().find_map(|l| l.strip_prefix("features: "));
    assert!(features.is_some_and(|f| !f.is_empty()), "{text}");
    let target = lines
        .iter()
        .find_map(|l| l.strip_prefix("target: "))
        .unwrap_or_else(|| panic!("no target line: {text}"));
    assert!(
        target.contains(std::env::consts::ARCH) && target.contains(std::env::consts::OS),
        "{target}"
    );
}

/// A short stereo song with a loudness target, in `sb`.
fn song(sb: &Sandbox) {
    sb.stem_f32("a.wav", 44100, 2, 44100, |c, n| {
        let t = n as f32 / 44100.0;
        (t * 440.0 * std::f32::consts::TAU + c as f32).sin() * 0.3
    });
    sb.write(
        "s.toml",
        "[session]\nname = \"pipe\"\n[[track]]\nname = \"a\"\nfile = \"a.wav\"\n\
         [master]\ntarget = { lufs = -16.0 }\n[[output]]\npath = \"out/song.wav\"\n",
    );
}

/// `render -o -` writes the WAV to stdout, byte for byte what `-o FILE` writes; human text
/// stays on stderr, and no report or stray file is written without `--report`.
#[test]
fn render_to_stdout_writes_the_same_wav_and_no_files() {
    let sb = Sandbox::new();
    song(&sb);
    let out = sb.run(&["render", "s.toml", "-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("standard output"), "{}", stderr(&out));
    assert_eq!(sb.files(), ["a.wav", "s.toml"], "nothing but stdout");
    let file = sb.run(&["render", "s.toml", "-q", "-o", "file.wav"]);
    assert_eq!(file.status.code(), Some(0), "{}", stderr(&file));
    let written = std::fs::read(sb.path("file.wav")).unwrap();
    assert!(out.stdout.starts_with(b"RIFF"));
    assert!(out.stdout == written, "stdout differs from -o file.wav");

    // With --report, the report is written, and names stdout as the output.
    let out = sb.run(&["render", "s.toml", "-q", "-o", "-", "--report", "r.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout == written);
    let r = report(&sb.path("r.json"));
    assert_eq!(r["outputs"][0]["path"].as_str(), Some("-"));
}

/// `analyze -` reads the audio from stdin and measures what `analyze FILE` measures.
#[test]
fn analyze_reads_standard_input() {
    let path = fixtures().join("stems/sine-44k1-stereo.flac");
    let from_file = mixdown()
        .args(["analyze", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(from_file.status.code(), Some(0), "{}", stderr(&from_file));
    let piped = mixdown()
        .args(["analyze", "--json", "-"])
        .write_stdin(std::fs::read(&path).unwrap())
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    let mut a: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(b["file"].as_str(), Some("standard input"));
    a["file"] = serde_json::Value::Null;
    b["file"] = serde_json::Value::Null;
    assert_eq!(a, b);

    let bad = mixdown()
        .args(["analyze", "-"])
        .write_stdin(b"not audio at all".to_vec())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("standard input"), "{}", stderr(&bad));
    let twice = mixdown()
        .args(["analyze", "-", "--reference", "-"])
        .write_stdin(Vec::new())
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
}

/// Mastering tells its steps as they start: the measurement, every pass of the gain search,
/// then the writing; the passes are the ones the target stage reports.
#[test]
fn mastering_tells_every_step() {
    let sb = Sandbox::new();
    song(&sb);
    let s = session::load(&sb.path("s.toml"), &LoadOptions::default()).unwrap();
    std::fs::create_dir(sb.path("out")).unwrap();
    let (_, pre) = master::premaster::render(&s, &indicatif::ProgressBar::hidden()).unwrap();
    let steps = Mutex::new(Vec::new());
    let mastered = master::master(&s, &pre, false, &|st| steps.lock().unwrap().push(st)).unwrap();
    let steps = steps.into_inner().unwrap();
    let iterations = mastered.target.as_ref().unwrap().iterations;
    assert!(iterations >= 1);
    assert_eq!(steps[0], Step::Measuring(44100), "{steps:?}");
    let passes: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Planning(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(passes, (1..=iterations).collect::<Vec<_>>(), "{steps:?}");
    let writing = steps.iter().position(|s| *s == Step::Writing(1));
    assert!(
        writing.is_some_and(|w| w > 1 && matches!(steps[w - 1], Step::Planning(_))),
        "{steps:?}"
    );
}
