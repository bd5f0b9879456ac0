//! `[[output]]`: delivery files, their formats, and the check that no output overwrites an input
//! or another output.

use std::path::Path;

use crate::io::wav::{Dither, Encoding};

use super::diag::Span;
use super::model::Output;
use super::paths::{normalize, same_file};
use super::validate::{LoadOptions, Validator, array_of_tables};
use super::walk::Tbl;

pub(super) fn outputs(
    v: &mut Validator<'_>,
    root: &Tbl<'_, '_>,
    session_file: &Path,
    opts: &LoadOptions,
) -> Vec<Output> {
    let tbls = array_of_tables(&mut v.d, root, "output");
    let mut outs: Vec<(Output, Span, String)> = Vec::new();
    for t in &tbls {
        t.check_keys(&mut v.d, &["path", "sample_rate", "bit_depth", "dither"]);
        let sample_rate = match t.int(&mut v.d, "sample_rate") {
            Some((r, _)) if (8000..=192_000).contains(&r) => r as u32,
            Some((_, span)) => {
                v.d.bad_value(
                    &span,
                    &t.key_path("sample_rate"),
                    "must be between 8000 and 192000 Hz",
                );
                44100
            }
            None => 44100,
        };
        let encoding = match t.int(&mut v.d, "bit_depth") {
            None | Some((16, _)) => Encoding::Pcm16,
            Some((24, _)) => Encoding::Pcm24,
            Some((32, _)) => Encoding::Float32,
            Some((_, span)) => {
                v.d.bad_value(
                    &span,
                    &t.key_path("bit_depth"),
                    "must be 16, 24 or 32 (float)",
                );
                Encoding::Pcm16
            }
        };
        let dither = match t
            .choice(&mut v.d, "dither", &["none", "tpdf", "shaped"])
            .map(|s| s.v)
            .as_deref()
        {
            Some("none") => Dither::None,
            Some("shaped") => Dither::Shaped,
            _ => Dither::Tpdf,
        };
        if !t.require(
            &mut v.d,
            "path",
            "where to write the file, e.g. path = \"out/song.wav\"",
        ) {
            continue;
        }
        let Some(p) = t.str(&mut v.d, "path") else {
            continue;
        };
        let path = normalize(&v.dir, Path::new(&p.v));
        outs.push((
            Output {
                path,
                sample_rate,
                encoding,
                dither,
            },
            p.span,
            t.key_path("path"),
        ));
    }
    if outs.is_empty() && !root.has("output") {
        let stem = session_file.file_stem().unwrap_or_default();
        let mut path = session_file.with_file_name(stem);
        path.set_extension("wav");
        outs.push((
            Output {
                path,
                sample_rate: 44100,
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
            first.0.path = normalize(&cwd, o);
            first.2 = format!("-o {}", o.display());
        }
    }
    for i in 0..outs.len() {
        let (o, span, path) = &outs[i];
        let has_span = !path.starts_with("-o") && path != "output";
        let problem = |msg: String| (msg, span.clone(), path.clone(), has_span);
        let mut problems = Vec::new();
        let ext_ok = o
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if !ext_ok {
            problems.push(problem(format!(
                "{}: mixdown writes WAV files; the path must end in .wav",
                o.path.display()
            )));
        }
        if v.inputs.iter().any(|inp| same_file(inp, &o.path)) {
            problems.push(problem(
                "names an input of this session; a render never overwrites its inputs".to_string(),
            ));
        }
        if let Some(j) = (0..i).find(|&j| same_file(&outs[j].0.path, &o.path)) {
            problems.push(problem(format!(
                "{}: output[{j}] writes the same file",
                o.path.display()
            )));
        }
        for (msg, span, path, has_span) in problems {
            if has_span {
                v.d.bad_value(&span, &path, msg);
            } else {
                v.d.push(None, &path, format!(": {msg}"), None);
            }
        }
    }
    outs.into_iter().map(|(o, _, _)| o).collect()
}
