//! `[[output]]`: delivery files, their formats, and the check that no output overwrites an input
//! or another output.

use std::path::{Path, PathBuf};

use crate::io::wav::{Dither, Encoding};

use super::diag::Span;
use super::keys::{self, output as k};
use super::model::Output;
use super::paths::{normalize, same_file};
use super::validate::{LoadOptions, Validator, array_of_tables};
use super::walk::Tbl;

/// What `-o` says for standard output.
pub const STDOUT: &str = "-";

// An output's defaults, from the key table (a change of their kind there fails the build).
const DEFAULT_RATE: u32 = match k::SAMPLE_RATE.default {
    keys::Absent::Int(r) => r as u32,
    _ => panic!("output.sample_rate needs an integer default"),
};
const DEFAULT_BITS: i64 = match k::BIT_DEPTH.default {
    keys::Absent::Int(b) => b,
    _ => panic!("output.bit_depth needs an integer default"),
};
const DEFAULT_DITHER: &str = match k::DITHER.default {
    keys::Absent::Str(d) => d,
    _ => panic!("output.dither needs a default"),
};

pub(super) fn outputs(
    v: &mut Validator<'_>,
    root: &Tbl<'_, '_>,
    session_file: &Path,
    opts: &LoadOptions,
) -> Vec<(Output, Span, String)> {
    let tbls = array_of_tables(&mut v.d, root, keys::root::OUTPUT.name);
    let mut outs: Vec<(Output, Span, String)> = Vec::new();
    for t in &tbls {
        t.check_section(&mut v.d, &k::SECTION, &[]);
        let sample_rate = t
            .int_of(&mut v.d, &k::SAMPLE_RATE)
            .map_or(DEFAULT_RATE, |r| r as u32);
        let encoding = match t.int_of(&mut v.d, &k::BIT_DEPTH).unwrap_or(DEFAULT_BITS) {
            24 => Encoding::Pcm24,
            32 => Encoding::Float32,
            _ => Encoding::Pcm16,
        };
        let dither = match t
            .choice_of(&mut v.d, &k::DITHER)
            .map(|s| s.v)
            .unwrap_or_else(|| DEFAULT_DITHER.to_string())
            .as_str()
        {
            "none" => Dither::None,
            "shaped" => Dither::Shaped,
            _ => Dither::Tpdf,
        };
        if !t.require(
            &mut v.d,
            k::PATH.name,
            "where to write the file, e.g. path = \"out/song.wav\"",
        ) {
            continue;
        }
        let Some(p) = t.str(&mut v.d, k::PATH.name) else {
            continue;
        };
        let path = normalize(&v.dir, Path::new(&p.v));
        outs.push((
            Output {
                path,
                stdout: false,
                sample_rate,
                encoding,
                dither,
            },
            p.span,
            t.key_path(k::PATH.name),
        ));
    }
    if let Some(v0) = root.get(keys::root::OUTPUT.name)
        && matches!(v0.get_ref(), toml::de::DeValue::Array(a) if a.is_empty())
    {
        v.d.bad_value_help(
            &v0.span(),
            "output",
            "an empty list: the render would write nothing",
            "give at least one [[output]] with a path, or remove `output` to write SESSION.wav beside the session",
        );
    }
    if outs.is_empty() && !root.has(keys::root::OUTPUT.name) {
        let stem = session_file.file_stem().unwrap_or_default();
        let mut path = session_file.with_file_name(stem);
        path.set_extension("wav");
        outs.push((
            Output {
                path,
                stdout: false,
                sample_rate: DEFAULT_RATE,
                encoding: Encoding::Pcm16,
                dither: Dither::Tpdf,
            },
            0..0,
            "output".into(),
        ));
    }
    if let Some(o) = &opts.output_override {
        let cwd = std::env::current_dir().unwrap_or_default();
        if let Some(first) = outs.first_mut() {
            if o.as_os_str() == STDOUT {
                first.0.path = PathBuf::from(STDOUT);
                first.0.stdout = true;
            } else {
                first.0.path = normalize(&cwd, o);
            }
            first.2 = format!("-o {}", o.display());
        }
    }
    outs
}

/// A file a render will write, with where it was asked for (for messages).
struct Written {
    path: PathBuf,
    /// Where the path was written in the session, if it was.
    span: Option<Span>,
    /// What names it in messages: `output[1].path`, `-o out.wav`, `--report r.json`.
    label: String,
}

/// Everything a render writes: every output, the report and the plots. Each must be a file
/// (not a folder, and not under a file where a folder should be) that is none of the session's
/// inputs (stems, impulse responses, the reference, the session file itself, however the path
/// is spelled: `..`, symlinks), and no two may be the same file. An output to standard output
/// (`-o -`) is no file: it has none of these checks, and the report is written only when
/// `--report` names a file. Returns the outputs, the report path and the plot paths.
pub(super) fn writes(
    v: &mut Validator<'_>,
    outs: Vec<(Output, Span, String)>,
    opts: &LoadOptions,
) -> (Vec<Output>, Option<PathBuf>, Vec<PathBuf>) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut all: Vec<Written> = outs
        .iter()
        .filter(|(o, ..)| !o.stdout)
        .map(|(o, span, label)| Written {
            path: o.path.clone(),
            span: (!label.starts_with("-o") && label != "output").then(|| span.clone()),
            label: label.clone(),
        })
        .collect();
    for w in &all {
        let ext_ok = w
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if !ext_ok {
            let msg = format!(
                "{}: mixdown writes WAV files; the path must end in .wav",
                w.path.display()
            );
            report(v, w, msg, None);
        }
    }
    let report_path = match (&opts.report_override, outs.first()) {
        (Some(r), _) => {
            let path = normalize(&cwd, r);
            all.push(Written {
                path: path.clone(),
                span: None,
                label: format!("--report {}", r.display()),
            });
            Some(path)
        }
        (None, Some((first, ..))) if first.stdout => None,
        (None, Some((first, ..))) => {
            let path = default_report_path(&first.path);
            all.push(Written {
                path: path.clone(),
                span: None,
                label: format!("the report {}", path.display()),
            });
            Some(path)
        }
        (None, None) => None,
    };
    let mut plots = Vec::new();
    if let Some(dir) = &opts.plot_dir {
        let dir = normalize(&cwd, dir);
        for name in crate::analysis::file::PLOT_FILES {
            let path = dir.join(name);
            all.push(Written {
                path: path.clone(),
                span: None,
                label: format!("--plot {}", path.display()),
            });
            plots.push(path);
        }
    }
    for i in 0..all.len() {
        let w = &all[i];
        if w.path.is_dir() {
            let msg = format!("{} is a folder; name a file", w.path.display());
            report(v, w, msg, None);
        }
        // A render creates missing folders, but not where a file is in the way: it would fail
        // only after rendering, so it is refused here, before anything renders.
        if let Some(file) = w.path.ancestors().skip(1).find(|a| a.exists())
            && !file.is_dir()
        {
            let msg = format!(
                "{} is a file, not a folder, so {} cannot be written",
                file.display(),
                w.path.display()
            );
            report(v, w, msg, None);
        }
        if v.inputs.iter().any(|inp| same_file(inp, &w.path)) {
            report(
                v,
                w,
                "names an input of this session; a render never overwrites its inputs".into(),
                Some("write it somewhere else".into()),
            );
        }
        if let Some(j) = (0..i).find(|&j| same_file(&all[j].path, &w.path)) {
            let msg = format!(
                "{}: {} writes the same file",
                w.path.display(),
                all[j].label
            );
            report(v, w, msg, None);
        }
    }
    let outputs = outs.into_iter().map(|(o, ..)| o).collect();
    (outputs, report_path, plots)
}

fn report(v: &mut Validator<'_>, w: &Written, msg: String, help: Option<String>) {
    match (&w.span, help) {
        (Some(span), Some(h)) => v.d.bad_value_help(span, &w.label, msg, h),
        (Some(span), None) => v.d.bad_value(span, &w.label, msg),
        (None, help) => v.d.push(None, &w.label, format!(": {msg}"), help),
    }
}

/// Where the report goes by default: beside the first output, as `NAME.report.json`.
pub fn default_report_path(first_output: &Path) -> PathBuf {
    let stem = first_output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mixdown".into());
    first_output.with_file_name(format!("{stem}.report.json"))
}
