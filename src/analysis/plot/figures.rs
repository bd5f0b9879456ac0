//! The three figures mixdown draws: a spectrum on a log-frequency axis, loudness over time and
//! a waveform overview; and the axes and ticks they use.

use super::{Area, Axis, Figure, PALETTE, Panel, Rule, Series, Tick};

/// A number for a tick label, with `decimals` places and a true minus sign.
pub(crate) fn number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    };
    s.replace('-', "\u{2212}")
}

/// 1, 2 or 5 times a power of ten, near `span / count`.
fn nice_step(span: f64, count: f64) -> f64 {
    let raw = span / count.max(1.0);
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let k = if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    k * mag
}

/// Evenly spaced ticks of `step` from `min` to `max`.
fn linear_ticks(min: f64, max: f64, step: f64) -> Vec<Tick> {
    if !(step > 0.0 && max >= min && (max - min) / step < 1000.0) {
        return Vec::new();
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    let first = (min / step).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let value = k as f64 * step;
            Tick {
                value,
                label: number(value, decimals),
            }
        })
        .collect()
}

/// The 20 Hz–20 kHz axis with the usual 1-2-5 ticks.
fn frequency_axis() -> Axis {
    let ticks = [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4]
        .iter()
        .map(|&v: &f64| Tick {
            value: v,
            label: if v >= 1000.0 {
                format!("{}k", v / 1000.0)
            } else {
                format!("{v}")
            },
        })
        .collect();
    let minor = [10.0, 100.0, 1000.0, 10_000.0]
        .iter()
        .flat_map(|&d| (2..10).map(move |k| d * f64::from(k)))
        .filter(|&v| (20.0..=20_000.0).contains(&v))
        .collect();
    Axis {
        label: "Frequency (Hz)".into(),
        min: 20.0,
        max: 20_000.0,
        log: true,
        ticks,
        minor,
    }
}

/// A time axis for `seconds`: seconds up to two minutes, minutes beyond. Returns the axis and
/// the factor converting seconds into its unit.
fn time_axis(seconds: f64) -> (Axis, f64) {
    let seconds = if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        1.0
    };
    let (label, scale) = if seconds > 120.0 {
        ("Time (min)", 1.0 / 60.0)
    } else {
        ("Time (s)", 1.0)
    };
    let max = seconds * scale;
    let step = nice_step(max, 8.0);
    (
        Axis {
            label: label.into(),
            min: 0.0,
            max,
            log: false,
            ticks: linear_ticks(0.0, max, step),
            minor: Vec::new(),
        },
        scale,
    )
}

/// Width of every plot, pixels.
pub const WIDTH: u32 = 960;
/// Height of the spectrum and loudness plots, pixels (the waveform grows with its channels).
pub const HEIGHT: u32 = 540;

/// Spectra on a log-frequency axis (20 Hz–20 kHz) with levels in dBFS; each series' points are
/// `(frequency Hz, level dB)`. The level axis spans from 10 dB above the highest point down to
/// the lowest (at most 90 dB); lower points sit on the bottom edge.
pub fn spectrum_figure(series: &[Series], title: &str) -> Figure {
    let x = frequency_axis();
    let visible = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(f, y)| (20.0..=20_000.0).contains(f) && y.is_finite() && *y > -199.0)
            .map(|&(_, y)| y)
    };
    let (lo, hi) = (
        visible().fold(f64::INFINITY, f64::min),
        visible().fold(f64::NEG_INFINITY, f64::max),
    );
    let (min, max) = if hi.is_finite() {
        let top = 10.0 * ((hi + 2.0) / 10.0).ceil();
        let bottom = (10.0 * ((lo - 2.0) / 10.0).floor()).max(top - 90.0);
        (bottom.min(top - 20.0), top)
    } else {
        (-90.0, 0.0)
    };
    let y = Axis {
        label: "Level (dBFS)".into(),
        min,
        max,
        log: false,
        ticks: linear_ticks(min, max, 10.0),
        minor: Vec::new(),
    };
    Figure {
        title: title.to_string(),
        width: WIDTH,
        height: HEIGHT,
        panels: vec![Panel {
            label: None,
            x,
            y,
            areas: Vec::new(),
            lines: series.to_vec(),
            rules: Vec::new(),
        }],
    }
}

/// Momentary and short-term loudness over time (one value per 100 ms, as
/// `loudness::analyze_program` gives them; `None` is a gap), with the integrated loudness as a
/// dashed line. LUFS against seconds (minutes beyond two minutes); the loudness axis spans
/// 40 LU below a top just above the loudest reading.
pub fn loudness_figure(
    momentary: &[Option<f64>],
    shortterm: &[Option<f64>],
    integrated: Option<f64>,
    title: &str,
) -> Figure {
    const STEP_S: f64 = 0.1;
    let seconds = momentary.len().max(shortterm.len()) as f64 * STEP_S;
    let (x, scale) = time_axis(seconds);
    let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let hi = momentary
        .iter()
        .chain(shortterm)
        .filter_map(finite)
        .chain(integrated.filter(|v| v.is_finite()))
        .fold(f64::NEG_INFINITY, f64::max);
    let (min, max) = if hi.is_finite() {
        let top = 5.0 * ((hi + 1.0) / 5.0).ceil();
        (top - 40.0, top)
    } else {
        (-50.0, -10.0)
    };
    let y = Axis {
        label: "Loudness (LUFS)".into(),
        min,
        max,
        log: false,
        ticks: linear_ticks(min, max, 5.0),
        minor: Vec::new(),
    };
    // Each reading belongs to the end of its window.
    let points = |v: &[Option<f64>]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    (i + 1) as f64 * STEP_S * scale,
                    finite(m).unwrap_or(f64::NAN),
                )
            })
            .collect()
    };
    let rules = integrated
        .filter(|v| v.is_finite())
        .map(|v| Rule {
            name: format!("Integrated {} LUFS", number(v, 1)),
            y: v,
            colour: PALETTE[1],
        })
        .into_iter()
        .collect();
    Figure {
        title: title.to_string(),
        width: WIDTH,
        height: HEIGHT,
        panels: vec![Panel {
            label: None,
            x,
            y,
            areas: Vec::new(),
            lines: vec![
                Series::new("Momentary (400 ms)", points(momentary), PALETTE[5]),
                Series::new("Short-term (3 s)", points(shortterm), PALETTE[0]),
            ],
            rules,
        }],
    }
}

/// Columns of the waveform overview.
pub const WAVEFORM_COLUMNS: usize = 2000;

/// Channel names for a channel count.
fn channel_name(i: usize, channels: usize) -> String {
    match (channels, i) {
        (1, _) => "Mono".into(),
        (2, 0) => "Left".into(),
        (2, 1) => "Right".into(),
        _ => format!("Channel {}", i + 1),
    }
}

/// Waveform overview: one panel per channel (labelled "Left", "Right", "Mono" or "Channel n"),
/// the min/max envelope (area "Peak (min/max)") and ±RMS (area "RMS") of about
/// [`WAVEFORM_COLUMNS`] columns, amplitude (1 = full scale) against time. The amplitude axis
/// is ±1, widened when the signal goes over full scale (float overs show). Non-finite samples
/// count as silence.
pub fn waveform_figure(planes: &[Vec<f32>], sample_rate: u32, title: &str) -> Figure {
    let n = planes.iter().map(Vec::len).max().unwrap_or(0);
    let rate = f64::from(sample_rate.max(1));
    let (x, scale) = time_axis(n as f64 / rate);
    let cols = n.min(WAVEFORM_COLUMNS);
    let clean = |v: f32| if v.is_finite() { f64::from(v) } else { 0.0 };
    let mut peak: f64 = 1.0;
    let mut panels: Vec<Panel> = Vec::new();
    for (c, plane) in planes.iter().enumerate() {
        let mut env = Vec::with_capacity(cols);
        let mut rms = Vec::with_capacity(cols);
        for k in 0..cols {
            let (a, b) = (k * n / cols, ((k + 1) * n / cols).min(plane.len()));
            let t = a as f64 / rate * scale;
            if a >= b {
                continue;
            }
            let (mut lo, mut hi, mut sq) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
            for &v in &plane[a..b] {
                let v = clean(v);
                lo = lo.min(v);
                hi = hi.max(v);
                sq += v * v;
            }
            let r = (sq / (b - a) as f64).sqrt();
            peak = peak.max(hi).max(-lo);
            env.push((t, lo, hi));
            rms.push((t, -r, r));
        }
        panels.push(Panel {
            label: Some(channel_name(c, planes.len())),
            x: x.clone(),
            y: Axis {
                label: "Amplitude (FS)".into(),
                min: -1.0,
                max: 1.0,
                log: false,
                ticks: Vec::new(),
                minor: Vec::new(),
            },
            areas: vec![
                Area {
                    name: "Peak (min/max)".into(),
                    columns: env,
                    colour: PALETTE[5],
                    opacity: 0.8,
                },
                Area {
                    name: "RMS".into(),
                    columns: rms,
                    colour: PALETTE[0],
                    opacity: 0.9,
                },
            ],
            lines: Vec::new(),
            rules: Vec::new(),
        });
    }
    if panels.is_empty() {
        panels.push(Panel {
            label: Some("No audio".into()),
            x,
            y: Axis {
                label: "Amplitude (FS)".into(),
                min: -1.0,
                max: 1.0,
                log: false,
                ticks: Vec::new(),
                minor: Vec::new(),
            },
            areas: Vec::new(),
            lines: Vec::new(),
            rules: Vec::new(),
        });
    }
    let limit = if peak.is_finite() {
        0.5 * (peak * 2.0).ceil()
    } else {
        1.0
    };
    let step = if limit <= 2.0 {
        0.5
    } else {
        nice_step(2.0 * limit, 6.0)
    };
    for p in &mut panels {
        p.y.min = -limit;
        p.y.max = limit;
        p.y.ticks = linear_ticks(-limit, limit, step);
    }
    let height = 110 + 190 * panels.len() as u32;
    Figure {
        title: title.to_string(),
        width: WIDTH,
        height,
        panels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::plot::layout::*;

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"))
    }

    fn texts(doc: &roxmltree::Document) -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect()
    }

    fn plot_areas(doc: &roxmltree::Document) -> Vec<(f64, f64, f64, f64)> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("plot-area"))
            .map(|n| {
                let a = |k| n.attribute(k).unwrap().parse::<f64>().unwrap();
                (a("x"), a("y"), a("width"), a("height"))
            })
            .collect()
    }

    /// Every coordinate of a path's `d` (M/L/Z commands only).
    fn coords(d: &str) -> Vec<(f64, f64)> {
        let nums: Vec<f64> = d
            .split(['M', 'L', 'Z', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        nums.chunks(2).map(|c| (c[0], c[1])).collect()
    }

    /// The path of a named series: present, non-empty, and inside one of the plot areas.
    fn check_series(doc: &roxmltree::Document, name: &str) -> usize {
        let areas = plot_areas(doc);
        let node = doc
            .descendants()
            .find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some(name))
            .unwrap_or_else(|| panic!("no path for {name}"));
        assert!(node.attribute("id").is_some_and(|id| !id.is_empty()));
        let pts = coords(node.attribute("d").unwrap());
        assert!(!pts.is_empty(), "{name} is empty");
        let inside = |&(x, y): &(f64, f64), &(ax, ay, w, h): &(f64, f64, f64, f64)| {
            x >= ax - 0.05 && x <= ax + w + 0.05 && y >= ay - 0.05 && y <= ay + h + 0.05
        };
        assert!(
            areas.iter().any(|a| pts.iter().all(|p| inside(p, a))),
            "{name} leaves the plot area"
        );
        pts.len()
    }

    fn pink_like() -> Vec<(f64, f64)> {
        (1..4097)
            .map(|k| {
                let f = k as f64 * 5.859375;
                (f, -20.0 - 10.0 * (f / 1000.0).log10())
            })
            .collect()
    }

    #[test]
    fn spectrum_plot_has_axes_series_and_legend() {
        let mix = Series::new("Mix <mid>", pink_like(), PALETTE[0]);
        let reference = Series::new(
            "Reference & \"side\"",
            pink_like().iter().map(|&(f, y)| (f, y - 6.0)).collect(),
            PALETTE[1],
        );
        let svg = spectrum_figure(&[mix, reference], "Spectrum: song.wav").to_svg();
        let doc = parse(&svg);
        let t = texts(&doc);
        for want in [
            "Frequency (Hz)",
            "Level (dBFS)",
            "Spectrum: song.wav",
            "Mix <mid>",
            "Reference & \"side\"",
            "20",
            "100",
            "1k",
            "10k",
            "20k",
        ] {
            assert!(t.iter().any(|x| x == want), "missing text {want}");
        }
        // 4096 bins thinned to a few points per pixel column.
        let n = check_series(&doc, "Mix <mid>");
        assert!(n < 2000, "{n} points");
        check_series(&doc, "Reference & \"side\"");
        assert!(
            doc.descendants()
                .any(|n| n.attribute("id") == Some("series-mix-mid"))
        );
    }

    #[test]
    fn loudness_plot_has_gaps_and_integrated_rule() {
        let momentary: Vec<Option<f64>> = (0..1800)
            .map(|i| (i >= 3).then(|| -14.0 + 4.0 * (i as f64 / 20.0).sin()))
            .collect();
        let shortterm: Vec<Option<f64>> = (0..1800)
            .map(|i| (i >= 29).then(|| -14.0 + (i as f64 / 50.0).sin()))
            .collect();
        let svg = loudness_figure(&momentary, &shortterm, Some(-14.2), "Loudness").to_svg();
        let doc = parse(&svg);
        let t = texts(&doc);
        for want in [
            "Time (min)",
            "Loudness (LUFS)",
            "Integrated \u{2212}14.2 LUFS",
            "\u{2212}15",
        ] {
            assert!(t.iter().any(|x| x == want), "missing text {want}: {t:?}");
        }
        check_series(&doc, "Momentary (400 ms)");
        check_series(&doc, "Short-term (3 s)");
        check_series(&doc, "Integrated \u{2212}14.2 LUFS");

        // Short: seconds; silent: still well-formed, empty paths.
        let doc_s = loudness_figure(&[Some(-20.0); 50], &[None; 50], None, "Short").to_svg();
        assert!(texts(&parse(&doc_s)).iter().any(|x| x == "Time (s)"));
        let _ = parse(&loudness_figure(&[], &[], None, "Empty").to_svg());
    }

    #[test]
    fn waveform_plot_has_a_panel_per_channel() {
        let rate = 48_000;
        let l: Vec<f32> = (0..rate * 10)
            .map(|i| (0.8 * (i as f64 * 0.05).sin()) as f32)
            .collect();
        let r: Vec<f32> = l.iter().map(|v| v * 0.25).collect();
        let svg = waveform_figure(&[l, r], rate as u32, "Waveform").to_svg();
        let doc = parse(&svg);
        assert_eq!(plot_areas(&doc).len(), 2);
        let t = texts(&doc);
        for want in [
            "Time (s)",
            "Amplitude (FS)",
            "Left",
            "Right",
            "Peak (min/max)",
            "RMS",
        ] {
            assert!(t.iter().any(|x| x == want), "missing text {want}");
        }
        // One legend entry per kind, not per channel.
        assert_eq!(t.iter().filter(|x| *x == "RMS").count(), 1);
        check_series(&doc, "Peak (min/max)");
        check_series(&doc, "RMS");
        // Each channel's panel has both areas; the left envelope reaches 0.8 of full scale.
        for (k, (channel, amplitude)) in [("Left", 0.8), ("Right", 0.2)].into_iter().enumerate() {
            let panel = doc
                .descendants()
                .find(|n| n.attribute("data-panel") == Some(channel))
                .unwrap();
            let area = |name| {
                panel
                    .descendants()
                    .find(|n| n.attribute("data-series") == Some(name))
                    .unwrap_or_else(|| panic!("{channel} has no {name}"))
            };
            assert!(!area("RMS").attribute("d").unwrap().is_empty());
            let (_, ay, _, ah) = plot_areas(&doc)[k];
            let top = coords(area("Peak (min/max)").attribute("d").unwrap())
                .iter()
                .map(|p| p.1)
                .fold(f64::INFINITY, f64::min);
            let expected = ay + ah / 2.0 - amplitude * ah / 2.0;
            assert!(
                (top - expected).abs() < 1.0,
                "{channel}: {top} vs {expected}"
            );
        }
    }

    #[test]
    fn degenerate_plots_are_well_formed() {
        let nan = Series::new("nan", vec![(f64::NAN, 1.0), (100.0, f64::NAN)], PALETTE[0]);
        let out = Series::new("outside", vec![(1.0, -10.0), (5.0, -12.0)], PALETTE[1]);
        let single = Series::new("single", vec![(1000.0, -10.0)], PALETTE[2]);
        let ctrl = Series::new("bell\u{7}", vec![], PALETTE[3]);
        for svg in [
            spectrum_figure(&[], "").to_svg(),
            spectrum_figure(&[nan, out, single.clone(), ctrl], "<&>").to_svg(),
            waveform_figure(&[], 48_000, "none").to_svg(),
            waveform_figure(&[vec![], vec![0.5; 3]], 0, "tiny").to_svg(),
            waveform_figure(&[vec![f32::NAN, 4.0, -3.0, f32::INFINITY]], 8_000, "overs").to_svg(),
            loudness_figure(
                &[Some(f64::NAN), Some(f64::INFINITY)],
                &[],
                Some(f64::NAN),
                "",
            )
            .to_svg(),
        ] {
            let doc = parse(&svg);
            assert!(!plot_areas(&doc).is_empty());
        }
        // A lone point is drawn as a dot.
        let doc = spectrum_figure(&[single], "dot").to_svg();
        check_series(&parse(&doc), "single");
    }

    #[test]
    fn clipping_interpolates_at_the_edges() {
        let fig = spectrum_figure(
            &[Series::new(
                "ramp",
                vec![(10.0, -40.0), (40.0, -20.0), (40_000.0, -20.0)],
                PALETTE[0],
            )],
            "",
        );
        let l = layout(&fig);
        let (p, r) = (&fig.panels[0], &l.panels[0]);
        let paths = line_pixels(p, r, &p.lines[0]);
        assert_eq!(paths.len(), 1);
        let first = paths[0][0];
        let last = *paths[0].last().unwrap();
        assert!((first.0 - r.x).abs() < 1e-9 && (last.0 - r.right()).abs() < 1e-9);
        // 20 Hz is halfway from 10 to 40 Hz on the log axis, so the edge crossing of the
        // segment (straight in pixels) is interpolated to halfway, -30 dB, not snapped.
        assert!((first.1 - py(&p.y, r, -30.0)).abs() < 1e-6);
    }

    #[test]
    fn tick_labels_use_a_minus_sign() {
        assert_eq!(number(-14.0, 0), "\u{2212}14");
        assert_eq!(number(-0.0, 1), "0.0");
        assert_eq!(number(0.5, 1), "0.5");
        let t = linear_ticks(-1.0, 1.0, 0.5);
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["\u{2212}1.0", "\u{2212}0.5", "0.0", "0.5", "1.0"]);
    }
}
