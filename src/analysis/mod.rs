//! Measurement and reporting: loudness and peaks, and the JSON report.

pub mod bs1770;
pub mod file;
pub mod font;
pub mod loudness;
pub mod plot;
pub mod plot_png;
pub mod report;
pub mod spectrum;
