//! Measurement and reporting: loudness and peaks, and the JSON report.

pub mod bs1770;
pub mod loudness;
pub mod report;
