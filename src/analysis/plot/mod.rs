//! Plots for `analyze --plot`: spectra on a log-frequency axis, loudness over time and a
//! waveform overview ([`figures`]), as a small plot model ([`Figure`], this file) laid out once
//! ([`layout`]) and written as hand-made SVG ([`svg`]) or rasterized to PNG ([`png`]), so both
//! show the same layout.
//!
//! Every plot has a title, labelled axes with units, gridlines and a legend. Each data series
//! is one `<path>` with `class="series"` (or `area`, `rule`), an `id` made from its name and
//! `data-series` holding the name itself, so scripts and tests can find it. Coordinates are
//! clipped to the plot area (a `<rect class="plot-area">`), and long series are thinned to a
//! few points per pixel column, keeping each column's extremes, so a 4097-bin spectrum or an
//! hour of loudness stays a small file without hiding a peak.

pub mod figures;
mod layout;
pub mod png;
mod svg;

pub use figures::{
    HEIGHT, WAVEFORM_COLUMNS, WIDTH, loudness_figure, spectrum_figure, waveform_figure,
};
pub use png::PngError;

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
