//! Shared helpers for the black-box tests: a temporary folder with generated stems, the built
//! binary, and readers for what it writes.
#![allow(dead_code)]

pub mod jsonschema;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// A temporary folder holding a session, its stems and its outputs.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a float WAV stem (exact values) with `frames` frames from `f(channel, frame)`.
    pub fn stem_f32(
        &self,
        name: &str,
        rate: u32,
        channels: u16,
        frames: usize,
        f: impl FnMut(usize, usize) -> f32,
    ) {
        self.stem(name, rate, channels, frames, 32, f);
    }

    /// Write a 16-bit WAV stem.
    pub fn stem_i16(
        &self,
        name: &str,
        rate: u32,
        channels: u16,
        frames: usize,
        f: impl FnMut(usize, usize) -> f32,
    ) {
        self.stem(name, rate, channels, frames, 16, f);
    }

    /// Write a WAV stem: 32-bit float, or 16-bit integer (rounded, clamped).
    fn stem(
        &self,
        name: &str,
        rate: u32,
        channels: u16,
        frames: usize,
        bits: u16,
        mut f: impl FnMut(usize, usize) -> f32,
    ) {
        let float = bits == 32;
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let p = self.path(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut w = hound::WavWriter::create(p, spec).unwrap();
        for n in 0..frames {
            for c in 0..channels as usize {
                let x = f(c, n);
                if float {
                    w.write_sample(x).unwrap();
                } else {
                    w.write_sample((x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
                        .unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }

    /// Render `body` (tracks, buses) in a session at `rate` to a 32-bit float WAV at the same
    /// rate (no dither, so figures can be checked exactly); return its planes.
    pub fn render_float(&self, rate: u32, body: &str) -> Vec<Vec<f32>> {
        let text = format!(
            "[session]\nname = \"t\"\nsample_rate = {rate}\n{body}\n[[output]]\npath = \"out.wav\"\nsample_rate = {rate}\nbit_depth = 32\n"
        );
        self.write("s.toml", &text);
        let out = self.run(&["render", "s.toml", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        read_wav(&self.path("out.wav")).1
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Run `mixdown ARGS` in the sandbox folder.
    pub fn run(&self, args: &[&str]) -> Output {
        mixdown()
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// Every file under the sandbox, relative, sorted.
    pub fn files(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out.sort();
        out
    }
}

pub fn mixdown() -> Command {
    Command::cargo_bin("mixdown").unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Read a WAV (any format hound reads) as planar f32 in [-1, 1).
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let ch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    };
    let mut planes = vec![Vec::with_capacity(inter.len() / ch); ch];
    for (i, x) in inter.into_iter().enumerate() {
        planes[i % ch].push(x);
    }
    (spec, planes)
}

/// Index of the largest magnitude.
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map_or(0, |(i, _)| i)
}

pub fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// SHA-256 of a file, hex.
pub fn file_sha(path: &Path) -> String {
    mixdown::io::wav::sha256_hex(&std::fs::read(path).unwrap())
}
