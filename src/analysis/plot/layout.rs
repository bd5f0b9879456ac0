//! Where everything of a [`Figure`] goes, in pixels: title, legend rows, stacked panels, and
//! the data mapped to pixels (clipped, thinned). Used by the SVG writer, whose output the PNG
//! writer rasterizes.

use super::{Area, Axis, Colour, Figure, Panel, Rule, Series};

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

/// Where everything goes, in pixels.
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
/// Estimated advance of one character of legend text, pixels: 12 px DejaVu Sans (the PNG's
/// font and the SVG's first choice) averages 6.8 px for lowercase letters, 7.6 for digits and
/// 8.1 for capitals; a legend entry's 20 px gap absorbs the difference.
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
