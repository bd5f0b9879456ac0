//! The mix engine: plan the routing graph, stream stems, run chains, sum buses and the master.

pub mod chain;
pub mod meter;
pub mod plan;
pub mod render;
pub mod source;

pub use render::{Mix, render};
