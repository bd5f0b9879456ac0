//! PNG rendering of the plots: the SVG of [`Figure::to_svg`] rasterized by resvg (parsed by
//! usvg, drawn anti-aliased by tiny-skia, all pure Rust) and encoded as 8-bit RGB by the `png`
//! crate, so the PNG shows what the SVG shows.
//!
//! Text is laid out with the fonts bundled in `assets/fonts` and nothing else: DejaVu Sans and
//! DejaVu Sans Bold (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`), cut down to
//! Latin (Basic, Latin-1, Extended-A/B and Additional), Greek, Cyrillic, combining accents,
//! punctuation, super/subscripts, currency, letterlike symbols, arrows and mathematical
//! operators. System fonts are never read, so the text does not depend on the fonts a machine
//! has, and the same figure gives the same bytes on every run. A character outside those
//! ranges (CJK, emoji, most other scripts) has no glyph in either font and there is no fallback
//! font, so it is drawn as the font's `.notdef` glyph, an empty box ("tofu"), one per
//! character; the SVG written beside it keeps the text and leaves it to the viewer's fonts.

use std::sync::{Arc, OnceLock};

use resvg::tiny_skia::{self, Pixmap, Transform};
use resvg::usvg::{self, fontdb};

use super::{BACKGROUND, Figure};

/// Why a plot could not be rendered as PNG.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// The figure's own SVG did not parse (a bug in the SVG writer, never the user's input).
    #[error("the plot's SVG does not parse: {0}")]
    Svg(#[from] usvg::Error),
    /// tiny-skia refused the canvas size (pixels).
    #[error("cannot allocate a {width} x {height} pixel canvas")]
    Canvas { width: u32, height: u32 },
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] png::EncodingError),
}

/// Largest width or height rendered, pixels; larger figures are cut to it.
pub const MAX_SIDE: u32 = 8192;

/// The family the bundled fonts declare, named first in the SVG's `font-family`.
const FAMILY: &str = "DejaVu Sans";
const REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// The bundled fonts, parsed once per process. Every generic family (`sans-serif`, and `serif`,
/// which usvg falls back to when no named family matches) maps to them.
fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            for data in [REGULAR, BOLD] {
                db.load_font_source(fontdb::Source::Binary(Arc::new(data)));
            }
            for generic in [
                fontdb::Database::set_sans_serif_family,
                fontdb::Database::set_serif_family,
            ] {
                generic(&mut db, FAMILY);
            }
            Arc::new(db)
        })
        .clone()
}

/// usvg options: the bundled fonts only, and no file access (relative `href`s have no base).
fn options() -> usvg::Options<'static> {
    usvg::Options {
        font_family: FAMILY.to_owned(),
        fontdb: fonts(),
        ..usvg::Options::default()
    }
}

impl Figure {
    /// The figure as PNG bytes (8-bit RGB), `width × height` pixels (each cut to
    /// [`MAX_SIDE`], at least 1): [`Figure::to_svg`] rasterized. A figure without area (zero
    /// width or height) is a blank background pixel.
    pub fn to_png(&self) -> Result<Vec<u8>, PngError> {
        let (width, height) = (
            self.width.clamp(1, MAX_SIDE),
            self.height.clamp(1, MAX_SIDE),
        );
        let mut pixmap = Pixmap::new(width, height).ok_or(PngError::Canvas { width, height })?;
        // Opaque from the start, so premultiplied RGBA is plain RGB and alpha can be dropped.
        let bg = BACKGROUND;
        pixmap.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, 255));
        if self.width > 0 && self.height > 0 {
            let tree = usvg::Tree::from_str(&self.to_svg(), &options())?;
            resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
        }
        let rgb: Vec<u8> = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Balanced);
            let mut writer = enc.write_header()?;
            writer.write_image_data(&rgb)?;
            writer.finish()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::plot::layout::layout;
    use crate::analysis::plot::{self, Colour, PALETTE, PLOT_BACKGROUND, Series, TEXT};

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

    /// Rows holding the title (baseline at 24 px, 16 px bold) and nothing else when the figure
    /// has no legend.
    const TITLE_ROWS: std::ops::Range<usize> = 0..32;

    /// Which pixels of `rows` carry ink: at least half way from the background to the text
    /// colour.
    fn ink(img: &(usize, usize, Vec<u8>), rows: std::ops::Range<usize>) -> Vec<bool> {
        let half = distance(BACKGROUND, TEXT) / 2;
        rows.flat_map(|y| (0..img.0).map(move |x| (x, y)))
            .map(|(x, y)| distance(pixel(img, x, y), BACKGROUND) >= half)
            .collect()
    }

    /// The title's ink, row by row, of a figure without legend titled `title`.
    fn title_ink(title: &str) -> (usize, Vec<bool>) {
        let img = decode(&plot::spectrum_figure(&[], title).to_png().unwrap());
        (img.0, ink(&img, TITLE_ROWS))
    }

    /// The glyph ids usvg chose for the title of `fig` (0 is `.notdef`).
    fn title_glyphs(fig: &Figure) -> Vec<u32> {
        let tree = usvg::Tree::from_str(&fig.to_svg(), &options()).unwrap();
        let text = tree
            .root()
            .children()
            .iter()
            .find_map(|n| match n {
                usvg::Node::Text(t) if t.chunks().iter().any(|c| c.text() == fig.title) => Some(t),
                _ => None,
            })
            .expect("the title is a text element");
        text.layouted()
            .iter()
            .flat_map(|span| span.positioned_glyphs.iter().map(|g| g.id.0))
            .collect()
    }

    #[test]
    fn accented_title_draws_its_glyphs() {
        // Every letter has a glyph of its own in the bundled bold font, none is `.notdef`.
        let fig = plot::spectrum_figure(&[], "Café déjà vu");
        let glyphs = title_glyphs(&fig);
        assert_eq!(glyphs.len(), "Café déjà vu".chars().count());
        assert!(glyphs.iter().all(|&g| g != 0), "{glyphs:?}");
        let unaccented = title_glyphs(&plot::spectrum_figure(&[], "Cafe deja vu"));
        assert_ne!(glyphs[3], unaccented[3], "é is not drawn as e");

        // In the pixels: é and à are e and a (same advance, same place) with a mark above the
        // x-height. So the accented title covers every inked pixel of the plain one (the
        // bitmap font's '?' for é did not), and adds ink only above the lowercase letters.
        let (w, plain) = title_ink("Cafe deja vu");
        let (_, accented) = title_ink("Café déjà vu");
        let count = |f: &dyn Fn(usize) -> bool| (0..plain.len()).filter(|&i| f(i)).count();
        let plain_ink = count(&|i| plain[i]);
        let lost = count(&|i| plain[i] && !accented[i]);
        let added: Vec<usize> = (0..plain.len())
            .filter(|&i| accented[i] && !plain[i])
            .collect();
        assert!(
            plain_ink > 300,
            "{plain_ink} inked pixels in the plain title"
        );
        assert!(lost * 50 <= plain_ink, "{lost} of {plain_ink} pixels lost");
        // Three marks, each about 4 px wide and 3 px high at 16 px (the acute of é spans
        // 1250..1638 font units of 2048), so at least 4 inked pixels each.
        assert!(
            added.len() >= 12,
            "{} pixels added by the accents",
            added.len()
        );
        // DejaVu Sans Bold's x-height is 1120/2048 em, 8.75 px at 16 px: the lowercase letters
        // start at row 24 - 8.75 = 15.25, so the marks end by row 15.
        let lowest = added.iter().map(|i| i / w).max().unwrap_or(0);
        assert!(lowest <= 15, "accent ink down to row {lowest}");
    }

    #[test]
    fn missing_glyphs_are_drawn_as_boxes() {
        // CJK and emoji are not in the bundled Latin/Greek/Cyrillic fonts and there is no
        // fallback font: each character is shaped as `.notdef` and drawn as its box outline,
        // so the title still shows that text was there, one box per character.
        let title = "Mix 夜 🚗";
        let glyphs = title_glyphs(&plot::spectrum_figure(&[], title));
        let notdef: Vec<bool> = glyphs.iter().map(|&g| g == 0).collect();
        assert_eq!(notdef, [false, false, false, false, true, false, true]);
        let (w, boxes) = title_ink(title);
        let (_, latin) = title_ink("Mix");
        let right = |ink: &[bool]| (0..ink.len()).filter(|&i| ink[i]).map(|i| i % w).max();
        let (rb, rl) = (right(&boxes).unwrap(), right(&latin).unwrap());
        // Two boxes after "Mix ": ink continues well to the right of the Latin text.
        assert!(rb > rl + 15, "ink ends at {rb}, Latin text at {rl}");
    }
}
