//! Measurement and reporting: loudness and peaks, and the JSON report.

pub mod loudness;
pub mod report;
