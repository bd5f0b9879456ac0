//! PNG rendering of the plots, without system libraries: the [`Figure`] model is
//! rasterized here into an RGB buffer (anti-aliased lines, filled envelopes, crisp gridlines and
//! the public-domain bitmap fonts of [`super::font`]) and encoded with the pure-Rust `png` crate. The
//! layout is the SVG's, so both files show the same plot.

use super::font::{BOLD, Font, SMALL};
use super::layout::{
    CHAR_W, MARGIN_LEFT, Rect, SWATCH_W, Swatch, area_pixels, layout, line_pixels, px, py,
    rule_pixel,
};
use super::{BACKGROUND, Colour, FRAME, Figure, GRID, MINOR_GRID, PLOT_BACKGROUND, TEXT};

/// PNG encoding failed (in practice only for an impossible image size).
#[derive(Debug, thiserror::Error)]
#[error("PNG encoding failed: {0}")]
pub struct PngError(#[from] png::EncodingError);

/// Largest width or height rendered, pixels; larger figures are cut to it.
pub const MAX_SIDE: u32 = 8192;

// The layout reserves CHAR_W per character of label text; the bitmap font must fit in it, so
// nothing drawn here overlaps what the SVG keeps apart.
const _: () = assert!(SMALL.width as f64 <= CHAR_W);

/// Width of data lines, pixels (1.5 as in the SVG).
const LINE_WIDTH: f64 = 1.5;

struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
    /// Coverage of the line being drawn, composited once per line so joints do not darken.
    mask: Vec<f32>,
}

#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Canvas {
    fn new(w: usize, h: usize, bg: Colour) -> Self {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            rgb.extend_from_slice(&[bg.r, bg.g, bg.b]);
        }
        Canvas {
            w,
            h,
            rgb,
            mask: vec![0.0; w * h],
        }
    }

    fn blend(&mut self, x: i64, y: i64, c: Colour, alpha: f64) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let i = (y as usize * self.w + x as usize) * 3;
        for (k, v) in [c.r, c.g, c.b].into_iter().enumerate() {
            let old = f64::from(self.rgb[i + k]);
            self.rgb[i + k] = (old + (f64::from(v) - old) * a).round() as u8;
        }
    }

    /// Fill the pixels whose centres lie in `[x0, x1) × [y0, y1)`, at least one pixel each way.
    fn fill(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Colour, alpha: f64) {
        let (xa, xb) = (
            x0.round() as i64,
            (x1.round() as i64).max(x0.round() as i64 + 1),
        );
        let (ya, yb) = (
            y0.round() as i64,
            (y1.round() as i64).max(y0.round() as i64 + 1),
        );
        for y in ya.max(0)..yb.min(self.h as i64) {
            for x in xa.max(0)..xb.min(self.w as i64) {
                self.blend(x, y, c, alpha);
            }
        }
    }

    /// A crisp one-pixel horizontal or vertical line through pixel row/column `at`.
    fn hline(&mut self, y: f64, x0: f64, x1: f64, c: Colour) {
        self.fill(x0, y.floor(), x1, y.floor() + 1.0, c, 1.0);
    }

    fn vline(&mut self, x: f64, y0: f64, y1: f64, c: Colour) {
        self.fill(x.floor(), y0, x.floor() + 1.0, y1, c, 1.0);
    }

    /// Anti-aliased polyline: coverage of a capsule of half-width `hw` around each segment
    /// (distance from the pixel centre), the maximum over segments, then one composite.
    fn polyline(&mut self, pts: &[(f64, f64)], width: f64, c: Colour, clip: &Rect) {
        if pts.is_empty() {
            return;
        }
        let hw = width / 2.0;
        let (mut bx0, mut by0, mut bx1, mut by1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        let segs: Vec<((f64, f64), (f64, f64))> = if pts.len() == 1 {
            vec![(pts[0], pts[0])]
        } else {
            pts.windows(2).map(|w| (w[0], w[1])).collect()
        };
        for (a, b) in segs {
            let x0 = ((a.0.min(b.0) - hw - 1.0).floor() as i64).max(clip.x.floor() as i64);
            let x1 = ((a.0.max(b.0) + hw + 1.0).ceil() as i64).min(clip.right().ceil() as i64);
            let y0 = ((a.1.min(b.1) - hw - 1.0).floor() as i64).max(clip.y.floor() as i64);
            let y1 = ((a.1.max(b.1) + hw + 1.0).ceil() as i64).min(clip.bottom().ceil() as i64);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            for y in y0.max(0)..y1.min(self.h as i64) {
                for x in x0.max(0)..x1.min(self.w as i64) {
                    let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                    let t = if len2 > 0.0 {
                        (((cx - a.0) * dx + (cy - a.1) * dy) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let (ex, ey) = (cx - (a.0 + t * dx), cy - (a.1 + t * dy));
                    let cov = (hw + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0) as f32;
                    let m = &mut self.mask[y as usize * self.w + x as usize];
                    *m = m.max(cov);
                }
            }
            bx0 = bx0.min(x0);
            by0 = by0.min(y0);
            bx1 = bx1.max(x1);
            by1 = by1.max(y1);
        }
        for y in by0.max(0)..by1.min(self.h as i64) {
            for x in bx0.max(0)..bx1.min(self.w as i64) {
                let i = y as usize * self.w + x as usize;
                let m = std::mem::take(&mut self.mask[i]);
                if m > 0.0 {
                    self.blend(x, y, c, f64::from(m));
                }
            }
        }
    }

    /// A dashed horizontal line, 2 px thick, dashes of 6 px with gaps of 3.
    fn dashed(&mut self, y: f64, x0: f64, x1: f64, c: Colour) {
        let mut x = x0;
        while x < x1 {
            self.fill(x, y - 1.0, (x + 6.0).min(x1), y + 1.0, c, 1.0);
            x += 9.0;
        }
    }

    fn glyphs(&mut self, font: &Font, text: &str, mut put: impl FnMut(&mut Self, usize, usize)) {
        for (i, ch) in text.chars().enumerate() {
            for (row, bits) in font.glyph(ch).into_iter().enumerate() {
                for col in 0..font.width.min(16) {
                    if bits & (0x8000 >> col) != 0 {
                        put(self, i * font.width + col, row);
                    }
                }
            }
        }
    }

    /// Text with its baseline at `baseline`, anchored at `x`.
    fn text(&mut self, font: &Font, x: f64, baseline: f64, text: &str, c: Colour, a: Anchor) {
        let w = font.text_width(text) as f64;
        let left = match a {
            Anchor::Start => x,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w,
        }
        .round() as i64;
        let top = (baseline.round() as i64) - font.ascent as i64;
        self.glyphs(font, text, |cv, gx, gy| {
            cv.blend(left + gx as i64, top + gy as i64, c, 1.0)
        });
    }

    /// Text turned a quarter left (reading upward), centred on `(cx, cy)`.
    fn text_up(&mut self, font: &Font, cx: f64, cy: f64, text: &str, c: Colour) {
        let w = font.text_width(text) as i64;
        let left = cx.round() as i64 - font.height as i64 / 2;
        let bottom = cy.round() as i64 + w / 2;
        self.glyphs(font, text, |cv, gx, gy| {
            cv.blend(left + gy as i64, bottom - gx as i64, c, 1.0)
        });
    }
}

impl Figure {
    /// The figure as PNG bytes (8-bit RGB), `width × height` pixels (each cut to
    /// [`MAX_SIDE`], at least 1).
    pub fn to_png(&self) -> Result<Vec<u8>, PngError> {
        let w = self.width.clamp(1, MAX_SIDE) as usize;
        let h = self.height.clamp(1, MAX_SIDE) as usize;
        let mut cv = Canvas::new(w, h, BACKGROUND);
        draw(self, &mut cv);
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Balanced);
            let mut writer = enc.write_header()?;
            writer.write_image_data(&cv.rgb)?;
            writer.finish()?;
        }
        Ok(out)
    }
}

fn draw(fig: &Figure, cv: &mut Canvas) {
    let l = layout(fig);
    cv.text(
        &BOLD,
        MARGIN_LEFT,
        l.title_baseline,
        &fig.title,
        TEXT,
        Anchor::Start,
    );
    for item in &l.legend {
        let (x, y) = (item.x, item.y);
        let full = Rect {
            x: 0.0,
            y: 0.0,
            w: cv.w as f64,
            h: cv.h as f64,
        };
        match item.swatch {
            Swatch::Line => cv.polyline(&[(x, y), (x + SWATCH_W, y)], 2.5, item.colour, &full),
            Swatch::Dashed => cv.dashed(y, x, x + SWATCH_W, item.colour),
            Swatch::Area => cv.fill(x, y - 5.0, x + SWATCH_W, y + 5.0, item.colour, 1.0),
        }
        cv.text(
            &SMALL,
            x + SWATCH_W + 6.0,
            y + 4.0,
            &item.name,
            TEXT,
            Anchor::Start,
        );
    }
    let last = fig.panels.len().saturating_sub(1);
    for (i, (p, r)) in fig.panels.iter().zip(&l.panels).enumerate() {
        cv.fill(r.x, r.y, r.right(), r.bottom(), PLOT_BACKGROUND, 1.0);
        if let Some(label) = &p.label {
            cv.text(&SMALL, r.x, r.y - 5.0, label, TEXT, Anchor::Start);
            // Bold by overprinting one pixel to the right, as the SVG label is bold.
            cv.text(&SMALL, r.x + 1.0, r.y - 5.0, label, TEXT, Anchor::Start);
        }
        let inside = |f: f64| (0.0..=1.0).contains(&f);
        for (values, colour) in [
            (p.x.minor.clone(), MINOR_GRID),
            (p.x.ticks.iter().map(|t| t.value).collect(), GRID),
        ] {
            for v in values.into_iter().filter(|&v| inside(p.x.fraction(v))) {
                cv.vline(px(&p.x, r, v), r.y, r.bottom(), colour);
            }
        }
        for (values, colour) in [
            (p.y.minor.clone(), MINOR_GRID),
            (p.y.ticks.iter().map(|t| t.value).collect(), GRID),
        ] {
            for v in values.into_iter().filter(|&v| inside(p.y.fraction(v))) {
                cv.hline(py(&p.y, r, v), r.x, r.right(), colour);
            }
        }
        for a in &p.areas {
            let cols = area_pixels(p, r, a);
            for (k, &(x, top, bottom)) in cols.iter().enumerate() {
                let next = cols.get(k + 1).map_or(x + 1.0, |c| c.0);
                cv.fill(
                    x,
                    top,
                    next.max(x + 1.0),
                    bottom,
                    a.colour,
                    a.opacity.clamp(0.0, 1.0),
                );
            }
        }
        for rule in &p.rules {
            if let Some(y) = rule_pixel(p, r, rule) {
                cv.dashed(y, r.x, r.right(), rule.colour);
            }
        }
        for s in &p.lines {
            for sub in line_pixels(p, r, s) {
                cv.polyline(&sub, LINE_WIDTH, s.colour, r);
            }
        }
        // Frame.
        cv.hline(r.y, r.x, r.right() + 1.0, FRAME);
        cv.hline(r.bottom(), r.x, r.right() + 1.0, FRAME);
        cv.vline(r.x, r.y, r.bottom(), FRAME);
        cv.vline(r.right(), r.y, r.bottom(), FRAME);
        for t in p.x.ticks.iter().filter(|t| inside(p.x.fraction(t.value))) {
            let x = px(&p.x, r, t.value);
            cv.text(&SMALL, x, r.bottom() + 16.0, &t.label, TEXT, Anchor::Middle);
        }
        for t in p.y.ticks.iter().filter(|t| inside(p.y.fraction(t.value))) {
            let y = py(&p.y, r, t.value);
            cv.text(&SMALL, r.x - 6.0, y + 4.0, &t.label, TEXT, Anchor::End);
        }
        if i == last {
            let x = r.x + r.w / 2.0;
            cv.text(
                &SMALL,
                x,
                r.bottom() + 38.0,
                &p.x.label,
                TEXT,
                Anchor::Middle,
            );
        }
        cv.text_up(&SMALL, 18.0, r.y + r.h / 2.0, &p.y.label, TEXT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::plot::PALETTE;
    use crate::analysis::plot::{self, Series};

    /// Decode to (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    fn pixel(img: &(usize, usize, Vec<u8>), x: usize, y: usize) -> Colour {
        let i = (y * img.0 + x) * 3;
        Colour::rgb(img.2[i], img.2[i + 1], img.2[i + 2])
    }

    fn distance(a: Colour, b: Colour) -> i32 {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
        d(a.r, b.r) + d(a.g, b.g) + d(a.b, b.b)
    }

    /// Pixels of the plot area of panel `k` drawn in `c` at 65 % coverage or more.
    fn count_near(fig: &Figure, img: &(usize, usize, Vec<u8>), k: usize, c: Colour) -> usize {
        let r = layout(fig).panels[k];
        let limit = distance(PLOT_BACKGROUND, c) * 35 / 100;
        let mut n = 0;
        for y in r.y.ceil() as usize..r.bottom().floor() as usize {
            for x in r.x.ceil() as usize..r.right().floor() as usize {
                if distance(pixel(img, x, y), c) <= limit {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn spectrum_png_decodes_with_the_series_drawn() {
        let pts: Vec<(f64, f64)> = (1..4097)
            .map(|k| {
                let f = k as f64 * 5.86;
                (f, -20.0 - 10.0 * (f / 1000.0).log10())
            })
            .collect();
        let series = [Series::new("Mix", pts, PALETTE[1])];
        let fig = plot::spectrum_figure(&series, "Spectrum");
        let img = decode(&plot::spectrum_figure(&series, "Spectrum").to_png().unwrap());
        assert_eq!(
            (img.0, img.1),
            (plot::WIDTH as usize, plot::HEIGHT as usize)
        );
        // A 1.5 px line across ~860 px of plot: at least a pixel per column in the line colour.
        let n = count_near(&fig, &img, 0, PALETTE[1]);
        assert!(n > 800, "{n} line pixels");
        // Title and labels put dark pixels outside the plot area.
        let dark = img
            .2
            .chunks(3)
            .filter(|p| p.iter().all(|&v| v < 80))
            .count();
        assert!(dark > 500, "{dark} text pixels");
    }

    #[test]
    fn loudness_and_waveform_pngs_decode() {
        let m: Vec<Option<f64>> = (0..600)
            .map(|i| Some(-14.0 + (i as f64 / 9.0).sin()))
            .collect();
        let fig = plot::loudness_figure(&m, &m, Some(-14.0), "Loudness");
        let img = decode(&fig.to_png().unwrap());
        assert_eq!((img.0, img.1), (960, 540));
        assert!(count_near(&fig, &img, 0, PALETTE[0]) > 500);
        assert!(
            count_near(&fig, &img, 0, PALETTE[1]) > 200,
            "integrated rule"
        );

        let l: Vec<f32> = (0..96_000)
            .map(|i| (0.9 * (i as f64 * 0.01).sin()) as f32)
            .collect();
        let fig = plot::waveform_figure(&[l.clone(), l], 48_000, "Waveform");
        let img = decode(&fig.to_png().unwrap());
        assert_eq!((img.0, img.1), (960, fig.height as usize));
        for k in 0..2 {
            assert!(
                count_near(&fig, &img, k, PALETTE[0]) > 10_000,
                "panel {k} RMS"
            );
        }
    }

    #[test]
    fn degenerate_figures_render() {
        for fig in [
            plot::spectrum_figure(&[], ""),
            plot::waveform_figure(&[], 0, "\u{1F3B5} non-ASCII title"),
            plot::loudness_figure(&[None], &[], None, "silent"),
            Figure {
                title: "zero".into(),
                width: 0,
                height: 0,
                panels: Vec::new(),
            },
        ] {
            let img = decode(&fig.to_png().unwrap());
            assert_eq!(img.0, fig.width.clamp(1, MAX_SIDE) as usize);
        }
    }
}
