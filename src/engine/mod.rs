//! The mix engine: build the routing graph and every track and bus chain ([`build`]), then
//! stream stems, run chains and sum buses block by block into a [`MixSink`] ([`Graph::run`]).
//! The master (its chain, the target stage, delivery) lives in `master`, which is the sink.

pub mod build;
pub mod chain;
pub mod error;
pub mod meter;
pub mod plan;
pub mod run;
pub mod source;

pub use build::{BLOCK_UNIT, Graph, block_frames, build};
pub use chain::{Chain, Keys};
pub use error::RenderError;
pub use meter::{NodeStats, StemStats};
pub use run::{MixSink, MixStats};
