//! Everything `mixdown analyze` says about a file, and about a file against a reference:
//! assembled from the loudness program analysis, the long-term spectrum and the true-peak
//! reconstruction, ready to print, serialize or plot.

use serde::Serialize;

use super::loudness::{Program, analyze_program};
use super::plot::PngError;
use super::plot::{self, PALETTE, Series};
use super::report::{ProgramReport, db};
use super::spectrum::{self, Band, BandDelta, Spectrum};
use crate::dsp::db::{gain_to_db, power_to_db};

/// A file's measurements (serialized as the `analyze --json` output).
#[derive(Debug, Serialize)]
pub struct FileAnalysis {
    pub file: String,
    pub format: String,
    pub sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    #[serde(flatten)]
    pub levels: ProgramReport,
    /// The band-limited waveform's peak as mixdown reconstructs it, dBTP.
    pub true_peak_reconstructed_dbtp: Option<f64>,
    /// Mean of each channel.
    pub dc_offset: Vec<f64>,
    /// Long-term 1/3-octave spectrum of mid (and side), dB relative to a full-scale sine.
    pub third_octave: Vec<Band>,
    /// Momentary and short-term loudness every 100 ms, LUFS (null while silent).
    pub momentary_lufs: Vec<Option<f64>>,
    pub shortterm_lufs: Vec<Option<f64>>,
}

/// The measurements kept alongside the serializable summary (for comparisons and plots).
pub struct Analyzed {
    pub report: FileAnalysis,
    pub planes: Vec<Vec<f32>>,
    pub program: Program,
    pub spectrum: Spectrum,
}

/// How a file differs from its reference (file minus reference).
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub reference: FileAnalysis,
    pub loudness_difference_lu: Option<f64>,
    pub loudness_range_difference_lu: Option<f64>,
    pub plr_difference_db: Option<f64>,
    pub crest_factor_difference_db: Option<f64>,
    pub correlation_difference: Option<f64>,
    /// Side-to-mid energy of the file relative to the reference's, dB (negative: narrower).
    pub width_difference_db: Option<f64>,
    /// Band-by-band mid difference, smoothed 1/3-octave.
    pub bands: Vec<BandDelta>,
    /// Plain-language findings, largest first.
    pub summary: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AnalyzeOutput {
    #[serde(flatten)]
    pub file: FileAnalysis,
    pub comparison: Option<Comparison>,
}

/// Analyse decoded planar audio (`shown` is the file name as the user gave it).
pub fn analyze(
    shown: &str,
    format: &str,
    planes: Vec<Vec<f32>>,
    rate: u32,
) -> Result<Analyzed, super::loudness::MeterError> {
    let p = analyze_program(&planes, rate)?;
    let spectrum = spectrum::long_term_spectrum(&planes, rate);
    let exact = crate::dsp::truepeak::true_peak(&planes);
    let series = |v: &[Option<f64>]| v.iter().map(|x| x.and_then(db)).collect();
    let report = FileAnalysis {
        file: shown.to_string(),
        format: format.to_string(),
        sample_rate: rate,
        channels: planes.len(),
        duration_s: planes.first().map_or(0, Vec::len) as f64 / f64::from(rate),
        levels: ProgramReport::new(&p),
        true_peak_reconstructed_dbtp: db(gain_to_db(f64::from(exact))),
        dc_offset: p
            .dc_offset
            .iter()
            .map(|d| (d * 1e6).round() / 1e6)
            .collect(),
        third_octave: spectrum
            .bands
            .iter()
            .map(|b| Band {
                mid_db: (b.mid_db * 100.0).round() / 100.0,
                side_db: b.side_db.map(|s| (s * 100.0).round() / 100.0),
                ..b.clone()
            })
            .collect(),
        momentary_lufs: series(&p.momentary),
        shortterm_lufs: series(&p.shortterm),
    };
    Ok(Analyzed {
        report,
        planes,
        program: p,
        spectrum,
    })
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => db(x - y),
        _ => None,
    }
}

/// Compare a file with its reference: loudness, dynamics, width and tonal balance, with a
/// short plain-language summary.
pub fn compare(file: &Analyzed, reference: Analyzed) -> Comparison {
    let (a, r) = (&file.report, &reference.report);
    let bands = spectrum::band_differences(&file.spectrum, &reference.spectrum);
    let width = match (a.channels, r.channels) {
        (2, 2) => {
            let ratio = spectrum::width_ratio(&file.spectrum, &reference.spectrum);
            // width_ratio is reference over file; report the file relative to the reference.
            (ratio.is_finite() && ratio > 0.0).then(|| -power_to_db(ratio))
        }
        _ => None,
    };
    let mut summary = Vec::new();
    if let Some(d) = diff(a.levels.integrated_lufs, r.levels.integrated_lufs)
        && d.abs() >= 0.5
    {
        summary.push(format!(
            "{:.1} LU {} than the reference ({} vs {} LUFS integrated)",
            d.abs(),
            if d < 0.0 { "quieter" } else { "louder" },
            fmt(a.levels.integrated_lufs),
            fmt(r.levels.integrated_lufs)
        ));
    }
    if let Some(d) = diff(a.levels.plr_db, r.levels.plr_db)
        && d.abs() >= 1.0
    {
        summary.push(format!(
            "{:.1} dB {} peak-to-loudness ratio: {} than the reference",
            d.abs(),
            if d < 0.0 { "less" } else { "more" },
            if d < 0.0 {
                "more compressed"
            } else {
                "more dynamic"
            }
        ));
    }
    if let Some(w) = width
        && w.abs() >= 1.0
    {
        summary.push(format!(
            "{} than the reference: side {:.1} dB {} relative to mid",
            if w < 0.0 { "narrower" } else { "wider" },
            w.abs(),
            if w < 0.0 { "lower" } else { "higher" }
        ));
    }
    summary.extend(spectrum::summarize(
        &bands,
        spectrum::SUMMARY_THRESHOLD_DB,
        spectrum::SUMMARY_LINES,
    ));
    Comparison {
        loudness_difference_lu: diff(a.levels.integrated_lufs, r.levels.integrated_lufs),
        loudness_range_difference_lu: diff(a.levels.loudness_range_lu, r.levels.loudness_range_lu),
        plr_difference_db: diff(a.levels.plr_db, r.levels.plr_db),
        crest_factor_difference_db: diff(a.levels.crest_factor_db, r.levels.crest_factor_db),
        correlation_difference: match (a.levels.stereo_correlation, r.levels.stereo_correlation) {
            (Some(x), Some(y)) => Some(((x - y) * 1000.0).round() / 1000.0),
            _ => None,
        },
        width_difference_db: width.and_then(db),
        bands,
        summary,
        reference: reference.report,
    }
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-inf".into(), |v| format!("{v:.1}"))
}

/// Smoothed (1/6 octave) spectrum series of one analysis for the spectrum plot.
fn spectrum_series(name: &str, sp: &Spectrum, colours: (usize, usize)) -> Vec<Series> {
    let grid: Vec<f64> = spectrum::log_grid(24)
        .into_iter()
        .filter(|&f| f < sp.nyquist())
        .collect();
    let (mid, side) = sp.smoothed_at(1.0 / 6.0, &grid);
    let mut out = vec![Series::new(
        format!("{name} mid"),
        grid.iter().copied().zip(mid).collect(),
        PALETTE[colours.0],
    )];
    if let Some(side) = side {
        out.push(Series::new(
            format!("{name} side"),
            grid.iter().copied().zip(side).collect(),
            PALETTE[colours.1],
        ));
    }
    out
}

/// The files [`plots`] makes, in its order.
pub const PLOT_FILES: [&str; 6] = [
    "spectrum.svg",
    "spectrum.png",
    "loudness.svg",
    "loudness.png",
    "waveform.svg",
    "waveform.png",
];

/// The spectrum (against the reference, when there is one), loudness-over-time and waveform
/// plots, each as SVG and PNG: `(file name, bytes)` in the order of [`PLOT_FILES`].
pub fn plots(
    file: &Analyzed,
    reference: Option<&Analyzed>,
) -> Result<Vec<(String, Vec<u8>)>, PngError> {
    let name = &file.report.file;
    let mut series = spectrum_series("file", &file.spectrum, (0, 1));
    if let Some(r) = reference {
        series.extend(spectrum_series("reference", &r.spectrum, (2, 3)));
    }
    let title = match reference {
        Some(r) => format!("Spectrum: {name} against {}", r.report.file),
        None => format!("Spectrum: {name}"),
    };
    let figures = [
        ("spectrum", plot::spectrum_figure(&series, &title)),
        (
            "loudness",
            plot::loudness_figure(
                &file.program.momentary,
                &file.program.shortterm,
                file.program.levels.integrated_lufs,
                &format!("Loudness: {name}"),
            ),
        ),
        (
            "waveform",
            plot::waveform_figure(
                &file.planes,
                file.report.sample_rate,
                &format!("Waveform: {name}"),
            ),
        ),
    ];
    let mut out = Vec::new();
    for (stem, fig) in figures {
        out.push((format!("{stem}.svg"), fig.to_svg().into_bytes()));
        out.push((format!("{stem}.png"), fig.to_png()?));
    }
    Ok(out)
}
