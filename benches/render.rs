//! Whole-render benchmark: synthetic session files (benches/synth: mixed rates, formats, mono and
//! stereo) rendered end to end through the same entry point as the binary, from decoding to the
//! written WAV and report. `cargo bench --bench render`. Two kinds: gain-only tracks through
//! four buses (`render_N_stems_x_20s`), and the realistic job (`render_real_8_stems_x_10s`:
//! per-track EQ, compressor, pan and a convolution-reverb send; master EQ, multiband,
//! compressor and loudness target).
//!
//! The 3-minute figures (wall, CPU, peak RSS) come from `scripts/bench-render.sh`, which runs the
//! release binary under GNU time, and `scripts/bench-compare.sh`, which runs the realistic job
//! with mixdown, SoX, ffmpeg and pedalboard; this harness tracks shorter renders for regressions.

#[path = "synth/mod.rs"]
mod synth;

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Parser;
use divan::Bencher;

fn session(kind: synth::Kind, stems: usize, seconds: f64) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    let sub = dir
        .path()
        .join(format!("{}-{stems}x{seconds}", kind.name()));
    let path = sub.join("session.toml");
    if !path.exists() {
        synth::generate_kind(kind, &sub, stems, seconds, 1).expect("generate session");
    }
    path
}

fn render(b: Bencher, stems: usize, seconds: f64, jobs: usize) {
    render_kind(b, synth::Kind::Gain, stems, seconds, jobs);
}

fn render_kind(b: Bencher, kind: synth::Kind, stems: usize, seconds: f64, jobs: usize) {
    let path = session(kind, stems, seconds);
    b.bench(|| {
        let cli = mixdown::cli::Cli::parse_from([
            "mixdown",
            "render",
            path.to_str().unwrap_or_default(),
            "-q",
            "--jobs",
            &jobs.to_string(),
        ]);
        assert_eq!(mixdown::cmd::run(cli), 0);
    });
}

#[divan::bench(sample_count = 5, args = [1, 2])]
fn render_8_stems_x_20s(b: Bencher, jobs: usize) {
    render(b, 8, 20.0, jobs);
}

#[divan::bench(sample_count = 3, args = [2])]
fn render_32_stems_x_20s(b: Bencher, jobs: usize) {
    render(b, 32, 20.0, jobs);
}

/// The realistic job, short enough to keep `cargo bench --bench render` quick.
#[divan::bench(sample_count = 3, args = [1, 2])]
fn render_real_8_stems_x_10s(b: Bencher, jobs: usize) {
    render_kind(b, synth::Kind::Real, 8, 10.0, jobs);
}

fn main() {
    divan::main();
}
