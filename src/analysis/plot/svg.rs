//! The SVG writer: a [`Figure`] as a standalone, hand-made SVG document. Every data series is
//! one `<path>` with a unique `id` and its name in `data-series`, so scripts and tests can find
//! it.

use std::fmt::Write as _;

use super::layout::{
    Layout, LegendItem, MARGIN_LEFT, Rect, SWATCH_W, Swatch, area_pixels, layout, line_pixels, px,
    py, rule_pixel,
};
use super::{BACKGROUND, Colour, FRAME, Figure, GRID, MINOR_GRID, PLOT_BACKGROUND, Panel, TEXT};

impl Figure {
    /// The figure as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let l = layout(self);
        let mut s = String::new();
        let mut ids = Ids::default();
        header(&mut s, self, &l);
        legend(&mut s, &l.legend);
        let last = self.panels.len().saturating_sub(1);
        for (i, (p, r)) in self.panels.iter().zip(&l.panels).enumerate() {
            panel(&mut s, &mut ids, i, i == last, p, r);
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Unique element ids: `kind-slug`, then `kind-slug-2`, `-3`... for repeated names.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn next(&mut self, kind: &str, name: &str) -> String {
        let base = format!("{kind}-{}", slug(name));
        let mut id = base.clone();
        let mut k = 2;
        while self.0.contains(&id) {
            id = format!("{base}-{k}");
            k += 1;
        }
        self.0.push(id.clone());
        id
    }
}

/// The root element, the document title, the background and the visible title.
fn header(s: &mut String, fig: &Figure, l: &Layout) {
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" fill="{text}">"#,
        w = fig.width,
        h = fig.height,
        text = TEXT.hex(),
    );
    let _ = write!(
        s,
        "\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
        esc(&fig.title),
        BACKGROUND.hex()
    );
    let _ = writeln!(
        s,
        r#"<text class="title" x="{:.1}" y="{:.1}" font-size="16" font-weight="bold">{}</text>"#,
        MARGIN_LEFT,
        l.title_baseline,
        esc(&fig.title)
    );
}

fn legend(s: &mut String, items: &[LegendItem]) {
    s.push_str("<g class=\"legend\">\n");
    for item in items {
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
}

/// One panel `i` in its plot area `r`: background, label, grid, data, frame, ticks and axis
/// labels (the x-axis label only under the `last` panel).
fn panel(s: &mut String, ids: &mut Ids, i: usize, last: bool, p: &Panel, r: &Rect) {
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
    grid(s, p, r);
    data(s, ids, i, p, r);
    let _ = writeln!(
        s,
        r#"<rect class="frame" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="{}" shape-rendering="crispEdges"/>"#,
        r.x,
        r.y,
        r.w,
        r.h,
        FRAME.hex()
    );
    ticks(s, p, r, last);
    s.push_str("</g>\n");
}

/// Gridlines: minor first so the major ones sit on top.
fn grid(s: &mut String, p: &Panel, r: &Rect) {
    // Crisp edges: a 1 px line between pixel rows would otherwise be a 2 px grey smear.
    s.push_str("<g class=\"grid\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n");
    let line = |s: &mut String, vertical: bool, v: f64, colour: Colour| {
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
        line(s, true, v, MINOR_GRID);
    }
    for &v in &p.y.minor {
        line(s, false, v, MINOR_GRID);
    }
    for t in &p.x.ticks {
        line(s, true, t.value, GRID);
    }
    for t in &p.y.ticks {
        line(s, false, t.value, GRID);
    }
    s.push_str("</g>\n");
}

/// Areas, rules and lines, clipped to the plot area (coordinates are clipped too; the clip
/// path is for the stroke width at the edges).
fn data(s: &mut String, ids: &mut Ids, i: usize, p: &Panel, r: &Rect) {
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
            ids.next("area", &a.name),
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
            ids.next("rule", &rule.name),
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
            ids.next("series", &line.name),
            esc(&line.name),
            line.colour.hex()
        );
    }
    s.push_str("</g>\n");
}

/// Tick labels and axis labels.
fn ticks(s: &mut String, p: &Panel, r: &Rect, last: bool) {
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
    if last {
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
