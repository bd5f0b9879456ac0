//! Measurement and reporting: loudness and peaks (BS.1770-4), spectra, a file's analysis and
//! its comparison with a reference, plots, and the figures reports show.

pub mod bs1770;
pub mod file;
pub mod loudness;
pub mod plot;
pub mod report;
pub mod spectrum;
