//! Plots for `analyze --plot`: spectra on a log-frequency axis, loudness over time and a
//! waveform overview, as a small plot model ([`Figure`]) that is written as hand-made SVG here
//! and rasterized to PNG by `plot_png`, so both show the same layout.
//!
//! Every plot has a title, labelled axes with units, gridlines and a legend. Each data series
//! is one `<path>` with `class="series"` (or `area`, `rule`), an `id` made from its name and
//! `data-series` holding the name itself, so scripts and tests can find it. Coordinates are
//! clipped to the plot area (a `<rect class="plot-area">`), and long series are thinned to a
//! few points per pixel column, keeping each column's extremes, so a 4097-bin spectrum or an
//! hour of loudness stays a small file without hiding a peak.

use std::fmt::Write as _;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Colour {
    /// A colour from its 8-bit red, green and blue components.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Colour { r, g, b }
    }

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// Series colours: the Okabe–Ito palette (M. Okabe and K. Ito, "Color Universal Design", 2008),
/// distinguishable with the common colour-vision deficiencies; its yellow is left out, being
/// unreadable on white.
pub const PALETTE: [Colour; 6] = [
    Colour::rgb(0, 114, 178),   // blue
    Colour::rgb(213, 94, 0),    // vermillion
    Colour::rgb(0, 158, 115),   // bluish green
    Colour::rgb(204, 121, 167), // reddish purple
    Colour::rgb(230, 159, 0),   // orange
    Colour::rgb(86, 180, 233),  // sky blue
];

pub(crate) const BACKGROUND: Colour = Colour::rgb(255, 255, 255);
pub(crate) const PLOT_BACKGROUND: Colour = Colour::rgb(250, 250, 250);
pub(crate) const FRAME: Colour = Colour::rgb(110, 110, 110);
pub(crate) const GRID: Colour = Colour::rgb(215, 215, 215);
pub(crate) const MINOR_GRID: Colour = Colour::rgb(236, 236, 236);
pub(crate) const TEXT: Colour = Colour::rgb(30, 30, 30);

/// A named line: points `(x, y)` in data units. A non-finite `y` (or, on a log axis, `x <= 0`)
/// breaks the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub colour: Colour,
}

impl Series {
    /// A series named `name` (shown in the legend and in `data-series`).
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, colour: Colour) -> Self {
        Series {
            name: name.into(),
            points,
            colour,
        }
    }
}

/// A filled band between two curves: columns `(x, lo, hi)` in data units (a min/max envelope).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub name: String,
    pub columns: Vec<(f64, f64, f64)>,
    pub colour: Colour,
    /// Fill opacity, 0..1.
    pub opacity: f64,
}

/// A dashed horizontal reference line at `y` (data units), e.g. the integrated loudness.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub y: f64,
    pub colour: Colour,
}

/// A labelled tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
}

/// An axis: range, scale, ticks (with gridlines) and a label with its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    /// Logarithmic scale (then `min` must be positive).
    pub log: bool,
    pub ticks: Vec<Tick>,
    /// Unlabelled minor gridlines.
    pub minor: Vec<f64>,
}

impl Axis {
    fn t(&self, v: f64) -> f64 {
        if self.log {
            if v > 0.0 { v.log10() } else { f64::NAN }
        } else {
            v
        }
    }

    /// Position of `v` along the axis, 0 at `min` and 1 at `max` (NaN where undefined).
    pub(crate) fn fraction(&self, v: f64) -> f64 {
        let (a, b) = (self.t(self.min), self.t(self.max));
        if b > a {
            (self.t(v) - a) / (b - a)
        } else {
            f64::NAN
        }
    }
}

/// One plot area with its axes and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Shown above the plot area (e.g. the channel).
    pub label: Option<String>,
    pub x: Axis,
    pub y: Axis,
    pub areas: Vec<Area>,
    pub lines: Vec<Series>,
    pub rules: Vec<Rule>,
}

/// A whole plot: title, size and panels stacked top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: String,
    /// Size, pixels.
    pub width: u32,
    pub height: u32,
    pub panels: Vec<Panel>,
}

/// What a legend entry looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    Line,
    Area,
    Dashed,
}

/// A placed legend entry: swatch at `(x, y)` (vertical centre), then the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegendItem {
    pub name: String,
    pub colour: Colour,
    pub swatch: Swatch,
    pub x: f64,
    pub y: f64,
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

/// Where everything goes, in pixels; shared by the SVG and PNG writers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub title_baseline: f64,
    pub legend: Vec<LegendItem>,
    /// Plot area of each panel.
    pub panels: Vec<Rect>,
}

pub(crate) const MARGIN_LEFT: f64 = 78.0;
const MARGIN_RIGHT: f64 = 24.0;
const TITLE_BAND: f64 = 34.0;
const LEGEND_ROW: f64 = 18.0;
/// Below the lowest plot area: tick labels and the x-axis label.
const MARGIN_BOTTOM: f64 = 50.0;
/// Between stacked panels: the upper panel's tick labels.
const PANEL_GAP: f64 = 30.0;
const PANEL_LABEL: f64 = 16.0;
/// Estimated advance of one character of label text, pixels (12 px sans-serif in SVG; the
/// PNG font is 6 px wide, so the estimate errs on the roomy side).
pub(crate) const CHAR_W: f64 = 7.0;
pub(crate) const SWATCH_W: f64 = 24.0;
const LEGEND_GAP: f64 = 20.0;

pub(crate) fn layout(fig: &Figure) -> Layout {
    let (w, h) = (f64::from(fig.width), f64::from(fig.height));
    // Legend entries, deduplicated by name, wrapped into rows.
    let mut entries: Vec<(String, Colour, Swatch)> = Vec::new();
    for p in &fig.panels {
        let all = p
            .areas
            .iter()
            .map(|a| (a.name.clone(), a.colour, Swatch::Area))
            .chain(
                p.lines
                    .iter()
                    .map(|s| (s.name.clone(), s.colour, Swatch::Line)),
            )
            .chain(
                p.rules
                    .iter()
                    .map(|r| (r.name.clone(), r.colour, Swatch::Dashed)),
            );
        for e in all {
            if !entries.iter().any(|x| x.0 == e.0) {
                entries.push(e);
            }
        }
    }
    let mut legend = Vec::new();
    let mut x = MARGIN_LEFT;
    let mut row = 0.0;
    for (name, colour, swatch) in entries {
        let width = SWATCH_W + 6.0 + CHAR_W * name.chars().count() as f64;
        if x > MARGIN_LEFT && x + width > w - MARGIN_RIGHT {
            x = MARGIN_LEFT;
            row += 1.0;
        }
        legend.push(LegendItem {
            name,
            colour,
            swatch,
            x,
            y: TITLE_BAND + 8.0 + row * LEGEND_ROW,
        });
        x += width + LEGEND_GAP;
    }
    let rows = if legend.is_empty() { 0.0 } else { row + 1.0 };
    let top = TITLE_BAND + rows * LEGEND_ROW + 8.0;
    let n = fig.panels.len().max(1) as f64;
    let labels = fig.panels.iter().any(|p| p.label.is_some());
    let label_h = if labels { PANEL_LABEL } else { 0.0 };
    let available = h - top - MARGIN_BOTTOM - (n - 1.0) * PANEL_GAP - n * label_h;
    let ph = (available / n).max(10.0);
    let panels = (0..fig.panels.len())
        .map(|i| Rect {
            x: MARGIN_LEFT,
            y: top + label_h + i as f64 * (ph + PANEL_GAP + label_h),
            w: (w - MARGIN_LEFT - MARGIN_RIGHT).max(10.0),
            h: ph,
        })
        .collect();
    Layout {
        title_baseline: 24.0,
        legend,
        panels,
    }
}

/// Pixel x of data `v` in `r`, NaN where undefined.
pub(crate) fn px(axis: &Axis, r: &Rect, v: f64) -> f64 {
    r.x + axis.fraction(v) * r.w
}

/// Pixel y of data `v` in `r`, NaN where undefined.
pub(crate) fn py(axis: &Axis, r: &Rect, v: f64) -> f64 {
    r.bottom() - axis.fraction(v) * r.h
}

/// A line series in pixels: sub-paths (the line breaks at gaps), clipped to the plot area in x
/// (with the crossing interpolated) and clamped to it in y, thinned to at most the first,
/// lowest, highest and last point of each pixel column.
pub(crate) fn line_pixels(p: &Panel, r: &Rect, s: &Series) -> Vec<Vec<(f64, f64)>> {
    let pts: Vec<Option<(f64, f64)>> = s
        .points
        .iter()
        .map(|&(x, y)| {
            let (a, b) = (px(&p.x, r, x), py(&p.y, r, y));
            (a.is_finite() && b.is_finite()).then_some((a, b))
        })
        .collect();
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let inside = |x: f64| x >= r.x && x <= r.right();
    let flush = |cur: &mut Vec<(f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
        if !cur.is_empty() {
            out.push(thin(std::mem::take(cur)));
        }
    };
    for i in 0..pts.len() {
        let Some(a) = pts[i] else {
            flush(&mut cur, &mut out);
            continue;
        };
        match pts.get(i + 1).copied().flatten() {
            Some(b) => {
                // Clip the segment a→b to x in [r.x, r.right()] (Liang–Barsky in one dimension).
                let dx = b.0 - a.0;
                let (mut t0, mut t1) = (0.0f64, 1.0f64);
                if dx == 0.0 {
                    if !inside(a.0) {
                        t0 = 1.0;
                        t1 = 0.0;
                    }
                } else {
                    let (ta, tb) = ((r.x - a.0) / dx, (r.right() - a.0) / dx);
                    t0 = t0.max(ta.min(tb));
                    t1 = t1.min(ta.max(tb));
                }
                if t0 > t1 {
                    flush(&mut cur, &mut out);
                    continue;
                }
                let at = |t: f64| (a.0 + t * dx, a.1 + t * (b.1 - a.1));
                if t0 > 0.0 {
                    flush(&mut cur, &mut out);
                }
                if cur.is_empty() {
                    cur.push(at(t0));
                }
                cur.push(at(t1));
                if t1 < 1.0 {
                    flush(&mut cur, &mut out);
                }
            }
            None => {
                if cur.is_empty() && inside(a.0) {
                    cur.push(a);
                }
                flush(&mut cur, &mut out);
            }
        }
    }
    flush(&mut cur, &mut out);
    for path in &mut out {
        for pt in path.iter_mut() {
            pt.0 = pt.0.clamp(r.x, r.right());
            pt.1 = pt.1.clamp(r.y, r.bottom());
        }
    }
    out
}

/// Keep the first, lowest, highest and last point of each pixel column, in order.
fn thin(path: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if path.len() < 8 {
        return path;
    }
    let mut out = Vec::with_capacity(path.len().min(4096));
    let mut i = 0;
    while i < path.len() {
        let col = path[i].0.floor();
        let mut j = i;
        while j + 1 < path.len() && path[j + 1].0.floor() == col {
            j += 1;
        }
        let run = &path[i..=j];
        if run.len() <= 4 {
            out.extend_from_slice(run);
        } else {
            let lo = (0..run.len()).min_by(|&a, &b| run[a].1.total_cmp(&run[b].1));
            let hi = (0..run.len()).max_by(|&a, &b| run[a].1.total_cmp(&run[b].1));
            let mut keep = vec![0, run.len() - 1];
            keep.extend(lo);
            keep.extend(hi);
            keep.sort_unstable();
            keep.dedup();
            out.extend(keep.into_iter().map(|k| run[k]));
        }
        i = j + 1;
    }
    out
}

/// An area in pixels: one `(x, top, bottom)` per pixel column (the widest extent of the
/// columns that fall in it), inside the plot area, left to right.
pub(crate) fn area_pixels(p: &Panel, r: &Rect, a: &Area) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for &(x, lo, hi) in &a.columns {
        let (cx, y0, y1) = (px(&p.x, r, x), py(&p.y, r, hi), py(&p.y, r, lo));
        if !(cx.is_finite() && y0.is_finite() && y1.is_finite()) || cx < r.x || cx > r.right() {
            continue;
        }
        // At least a pixel high, so silence shows as a line rather than nothing.
        let mid = 0.5 * (y0 + y1);
        let (top, bottom) = (
            y0.min(y1).min(mid - 0.5).clamp(r.y, r.bottom()),
            y0.max(y1).max(mid + 0.5).clamp(r.y, r.bottom()),
        );
        match out.last_mut() {
            Some(last) if last.0.floor() == cx.floor() => {
                last.1 = last.1.min(top);
                last.2 = last.2.max(bottom);
            }
            _ => out.push((cx, top, bottom)),
        }
    }
    out
}

/// Pixel y of a rule, if it lies inside the plot area.
pub(crate) fn rule_pixel(p: &Panel, r: &Rect, rule: &Rule) -> Option<f64> {
    let y = py(&p.y, r, rule.y);
    (y.is_finite() && y >= r.y - 1e-9 && y <= r.bottom() + 1e-9).then_some(y)
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

/// `id`-safe slug of a name: lower-case ASCII letters and digits joined by `-`.
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    if s.is_empty() {
        "unnamed".to_string()
    } else {
        s.to_string()
    }
}

fn path_data(points: &[(f64, f64)]) -> String {
    let mut d = String::with_capacity(points.len() * 14);
    for (i, (x, y)) in points.iter().enumerate() {
        let cmd = if i == 0 { 'M' } else { 'L' };
        let _ = write!(d, "{cmd}{x:.1} {y:.1}");
    }
    if points.len() == 1 {
        // A lone point: a zero-length segment, drawn as a dot by the round cap.
        let (x, y) = points[0];
        let _ = write!(d, "L{x:.1} {y:.1}");
    }
    d
}

impl Figure {
    /// The figure as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let l = layout(self);
        let mut s = String::new();
        let mut ids: Vec<String> = Vec::new();
        let mut id_for = |kind: &str, name: &str| -> String {
            let base = format!("{kind}-{}", slug(name));
            let mut id = base.clone();
            let mut k = 2;
            while ids.contains(&id) {
                id = format!("{base}-{k}");
                k += 1;
            }
            ids.push(id.clone());
            id
        };
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" fill="{text}">"#,
            w = self.width,
            h = self.height,
            text = TEXT.hex(),
        );
        let _ = write!(
            s,
            "\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
            esc(&self.title),
            BACKGROUND.hex()
        );
        let _ = writeln!(
            s,
            r#"<text class="title" x="{:.1}" y="{:.1}" font-size="16" font-weight="bold">{}</text>"#,
            MARGIN_LEFT,
            l.title_baseline,
            esc(&self.title)
        );
        s.push_str("<g class=\"legend\">\n");
        for item in &l.legend {
            let (x, y, c) = (item.x, item.y, item.colour.hex());
            match item.swatch {
                Swatch::Line => {
                    let _ = writeln!(
                        s,
                        r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{c}" stroke-width="2.5"/>"#,
                        x + SWATCH_W
                    );
                }
                Swatch::Dashed => {
                    let _ = writeln!(
                        s,
                        r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{c}" stroke-width="2" stroke-dasharray="6 3"/>"#,
                        x + SWATCH_W
                    );
                }
                Swatch::Area => {
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="{SWATCH_W:.1}" height="10" fill="{c}"/>"#,
                        y - 5.0
                    );
                }
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + SWATCH_W + 6.0,
                y + 4.0,
                esc(&item.name)
            );
        }
        s.push_str("</g>\n");

        let last = self.panels.len().saturating_sub(1);
        for (i, (p, r)) in self.panels.iter().zip(&l.panels).enumerate() {
            match &p.label {
                Some(label) => {
                    let _ = writeln!(s, r#"<g class="panel" data-panel="{}">"#, esc(label));
                }
                None => s.push_str("<g class=\"panel\">\n"),
            }
            let _ = writeln!(
                s,
                r#"<rect class="plot-area" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                r.x,
                r.y,
                r.w,
                r.h,
                PLOT_BACKGROUND.hex()
            );
            if let Some(label) = &p.label {
                let _ = writeln!(
                    s,
                    r#"<text class="panel-label" x="{:.1}" y="{:.1}" font-weight="bold">{}</text>"#,
                    r.x,
                    r.y - 5.0,
                    esc(label)
                );
            }
            // Gridlines: minor first so the major ones sit on top.
            s.push_str("<g class=\"grid\" stroke-width=\"1\">\n");
            let grid = |s: &mut String, vertical: bool, v: f64, colour: Colour| {
                let (axis, pos) = if vertical {
                    (&p.x, px(&p.x, r, v))
                } else {
                    (&p.y, py(&p.y, r, v))
                };
                let f = axis.fraction(v);
                if !(0.0..=1.0).contains(&f) {
                    return;
                }
                let (x1, y1, x2, y2) = if vertical {
                    (pos, r.y, pos, r.bottom())
                } else {
                    (r.x, pos, r.right(), pos)
                };
                let _ = writeln!(
                    s,
                    r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}"/>"#,
                    colour.hex()
                );
            };
            for &v in &p.x.minor {
                grid(&mut s, true, v, MINOR_GRID);
            }
            for &v in &p.y.minor {
                grid(&mut s, false, v, MINOR_GRID);
            }
            for t in &p.x.ticks {
                grid(&mut s, true, t.value, GRID);
            }
            for t in &p.y.ticks {
                grid(&mut s, false, t.value, GRID);
            }
            s.push_str("</g>\n");

            // Data, clipped to the plot area (coordinates are clipped too; this is for the
            // stroke width at the edges).
            let _ = writeln!(
                s,
                r#"<clipPath id="clip-{i}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/></clipPath>"#,
                r.x, r.y, r.w, r.h
            );
            let _ = writeln!(s, r#"<g class="data" clip-path="url(#clip-{i})">"#);
            for a in &p.areas {
                let cols = area_pixels(p, r, a);
                let mut pts: Vec<(f64, f64)> = cols.iter().map(|c| (c.0, c.1)).collect();
                pts.extend(cols.iter().rev().map(|c| (c.0, c.2)));
                let d = if pts.is_empty() {
                    String::new()
                } else {
                    path_data(&pts) + "Z"
                };
                let _ = writeln!(
                    s,
                    r#"<path class="area" id="{}" data-series="{}" d="{d}" fill="{}" fill-opacity="{:.2}" stroke="none"/>"#,
                    id_for("area", &a.name),
                    esc(&a.name),
                    a.colour.hex(),
                    a.opacity.clamp(0.0, 1.0)
                );
            }
            for rule in &p.rules {
                let d = rule_pixel(p, r, rule)
                    .map(|y| path_data(&[(r.x, y), (r.right(), y)]))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    r#"<path class="rule" id="{}" data-series="{}" d="{d}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="6 3"/>"#,
                    id_for("rule", &rule.name),
                    esc(&rule.name),
                    rule.colour.hex()
                );
            }
            for line in &p.lines {
                let d: String = line_pixels(p, r, line)
                    .iter()
                    .map(|sub| path_data(sub))
                    .collect();
                let _ = writeln!(
                    s,
                    r#"<path class="series" id="{}" data-series="{}" d="{d}" fill="none" stroke="{}" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>"#,
                    id_for("series", &line.name),
                    esc(&line.name),
                    line.colour.hex()
                );
            }
            s.push_str("</g>\n");
            let _ = writeln!(
                s,
                r#"<rect class="frame" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="{}"/>"#,
                r.x,
                r.y,
                r.w,
                r.h,
                FRAME.hex()
            );

            // Tick labels and axis labels.
            s.push_str("<g class=\"ticks\">\n");
            for t in &p.x.ticks {
                if (0.0..=1.0).contains(&p.x.fraction(t.value)) {
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                        px(&p.x, r, t.value),
                        r.bottom() + 16.0,
                        esc(&t.label)
                    );
                }
            }
            for t in &p.y.ticks {
                if (0.0..=1.0).contains(&p.y.fraction(t.value)) {
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                        r.x - 6.0,
                        py(&p.y, r, t.value) + 4.0,
                        esc(&t.label)
                    );
                }
            }
            s.push_str("</g>\n");
            if i == last {
                let _ = writeln!(
                    s,
                    r#"<text class="axis-label x-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    r.x + r.w / 2.0,
                    r.bottom() + 38.0,
                    esc(&p.x.label)
                );
            }
            let (yx, yy) = (18.0, r.y + r.h / 2.0);
            let _ = writeln!(
                s,
                r#"<text class="axis-label y-label" x="{yx:.1}" y="{yy:.1}" text-anchor="middle" transform="rotate(-90 {yx:.1} {yy:.1})">{}</text>"#,
                esc(&p.y.label)
            );
            s.push_str("</g>\n");
        }
        s.push_str("</svg>\n");
        s
    }
}

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

/// SVG of [`spectrum_figure`].
pub fn spectrum_svg(series: &[Series], title: &str) -> String {
    spectrum_figure(series, title).to_svg()
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

/// SVG of [`loudness_figure`].
pub fn loudness_svg(
    momentary: &[Option<f64>],
    shortterm: &[Option<f64>],
    integrated: Option<f64>,
    title: &str,
) -> String {
    loudness_figure(momentary, shortterm, integrated, title).to_svg()
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

/// SVG of [`waveform_figure`].
pub fn waveform_svg(planes: &[Vec<f32>], sample_rate: u32, title: &str) -> String {
    waveform_figure(planes, sample_rate, title).to_svg()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let svg = spectrum_svg(&[mix, reference], "Spectrum: song.wav");
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
        let svg = loudness_svg(&momentary, &shortterm, Some(-14.2), "Loudness");
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
        let doc_s = loudness_svg(&[Some(-20.0); 50], &[None; 50], None, "Short");
        assert!(texts(&parse(&doc_s)).iter().any(|x| x == "Time (s)"));
        let _ = parse(&loudness_svg(&[], &[], None, "Empty"));
    }

    #[test]
    fn waveform_plot_has_a_panel_per_channel() {
        let rate = 48_000;
        let l: Vec<f32> = (0..rate * 10)
            .map(|i| (0.8 * (i as f64 * 0.05).sin()) as f32)
            .collect();
        let r: Vec<f32> = l.iter().map(|v| v * 0.25).collect();
        let svg = waveform_svg(&[l, r], rate as u32, "Waveform");
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
            spectrum_svg(&[], ""),
            spectrum_svg(&[nan, out, single.clone(), ctrl], "<&>"),
            waveform_svg(&[], 48_000, "none"),
            waveform_svg(&[vec![], vec![0.5; 3]], 0, "tiny"),
            waveform_svg(&[vec![f32::NAN, 4.0, -3.0, f32::INFINITY]], 8_000, "overs"),
            loudness_svg(
                &[Some(f64::NAN), Some(f64::INFINITY)],
                &[],
                Some(f64::NAN),
                "",
            ),
        ] {
            let doc = parse(&svg);
            assert!(!plot_areas(&doc).is_empty());
        }
        // A lone point is drawn as a dot.
        let doc = spectrum_svg(&[single], "dot");
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
