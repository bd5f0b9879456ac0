//! `mixdown analyze`: measure a file, compare it with a reference, plot both.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::analysis::file::{self, Analyzed, FileAnalysis};
use crate::cli::AnalyzeArgs;
use crate::error::{AppError, exit};
use crate::io::stage;

use super::ui::{fmt_db, fmt_lufs, plural, shown};

/// Write the plots of `a` (against `r`) into `dir`, each file atomically; returns the files.
pub(super) fn write_plots(
    dir: &Path,
    a: &Analyzed,
    r: Option<&Analyzed>,
) -> Result<Vec<PathBuf>, AppError> {
    std::fs::create_dir_all(dir).map_err(|source| AppError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, bytes) in file::plots(a, r).map_err(AppError::Plot)? {
        let path = dir.join(name);
        stage::write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Decode and analyse one file for `analyze`.
pub(super) fn analyze_path(path: &Path) -> Result<Analyzed, AppError> {
    analyze_named(path, &shown(path))
}

/// Decode and analyse the file at `path`, called `name` in the analysis and in messages.
fn analyze_named(path: &Path, name: &str) -> Result<Analyzed, AppError> {
    let (info, planes) = crate::io::decode::decode_all(path).map_err(|source| AppError::Input {
        path: PathBuf::from(name),
        source,
    })?;
    file::analyze(name, &info.format, planes, info.sample_rate).map_err(|source| {
        AppError::Measure {
            what: name.to_string(),
            source,
        }
    })
}

/// What `-` names on the command line.
const STDIN: &str = "-";
/// How standard input is called in the analysis and in messages.
const STDIN_NAME: &str = "standard input";

/// A file named on the command line, ready to decode: `-` is standard input, copied to a
/// temporary file first (the decoders seek, and check the length the header states against
/// the file's size). The temporary file lives as long as the returned guard.
fn input(path: &Path) -> Result<(PathBuf, String, Option<tempfile::TempPath>), AppError> {
    if path != Path::new(STDIN) {
        return Ok((path.to_path_buf(), shown(path), None));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(AppError::Usage(
            "analyze -: standard input is a terminal; pipe the audio in (cat song.flac | mixdown analyze -)".into(),
        ));
    }
    let io_err = |source| AppError::Write {
        path: STDIN_NAME.into(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".mixdown-stdin.")
        .tempfile()
        .map_err(io_err)?;
    std::io::copy(&mut stdin.lock(), &mut tmp).map_err(io_err)?;
    tmp.flush().map_err(io_err)?;
    let tmp = tmp.into_temp_path();
    Ok((tmp.to_path_buf(), STDIN_NAME.into(), Some(tmp)))
}

pub fn run(args: &AnalyzeArgs) -> Result<u8, AppError> {
    let stdin = Path::new(STDIN);
    if args.file == stdin && args.reference.as_deref() == Some(stdin) {
        return Err(AppError::Usage(
            "standard input can be read only once: FILE and --reference cannot both be -".into(),
        ));
    }
    let (file, name, _guard) = input(&args.file)?;
    let reference = args.reference.as_deref().map(input).transpose()?;
    let (a, r) = match &reference {
        Some((rp, rname, _)) => {
            let (a, r) = rayon::join(|| analyze_named(&file, &name), || analyze_named(rp, rname));
            (a?, Some(r?))
        }
        None => (analyze_named(&file, &name)?, None),
    };
    if let Some(dir) = &args.plot {
        for w in write_plots(dir, &a, r.as_ref())? {
            eprintln!("wrote {}", shown(&w));
        }
    }
    let comparison = r.map(|r| file::compare(&a, r));
    if args.json {
        let out = file::AnalyzeOutput {
            file: a.report,
            comparison,
        };
        let json = serde_json::to_string_pretty(&out).map_err(AppError::Json)?;
        println!("{json}");
    } else {
        print_analysis(&a.report);
        if let Some(c) = &comparison {
            println!();
            print_analysis(&c.reference);
            println!();
            println!("compared with the reference:");
            for line in &c.summary {
                println!("  - {line}");
            }
            if c.summary.is_empty() {
                println!("  - no difference worth naming");
            }
        }
    }
    Ok(exit::OK)
}

fn print_analysis(a: &FileAnalysis) {
    let v = |x: Option<f64>, unit: &str| fmt_db(x, unit);
    let l = &a.levels;
    println!(
        "{}: {}, {} Hz, {} channel{}, {:.2} s",
        a.file,
        a.format,
        a.sample_rate,
        a.channels,
        plural(a.channels),
        a.duration_s
    );
    println!(
        "  integrated       {}",
        fmt_lufs(l.integrated_lufs, a.duration_s)
    );
    println!("  loudness range   {}", v(l.loudness_range_lu, "LU"));
    println!("  max momentary    {}", v(l.max_momentary_lufs, "LUFS"));
    println!("  max short-term   {}", v(l.max_shortterm_lufs, "LUFS"));
    println!("  sample peak      {}", v(l.sample_peak_dbfs, "dBFS"));
    println!(
        "  true peak        {} (BS.1770-4 4x), {} reconstructed",
        v(l.true_peak_dbtp, "dBTP"),
        v(a.true_peak_reconstructed_dbtp, "dBTP")
    );
    println!("  PLR              {}", v(l.plr_db, "dB"));
    println!("  crest factor     {}", v(l.crest_factor_db, "dB"));
    let dc: Vec<String> = a.dc_offset.iter().map(|d| format!("{d:+.6}")).collect();
    println!("  DC offset        {}", dc.join(" / "));
    if let Some(c) = l.stereo_correlation {
        println!("  correlation      {c:+.3}");
    }
    if a.channels == 2 {
        println!("  mono fold loss   {}", v(l.mono_fold_loss_lu, "LU"));
    }
}
