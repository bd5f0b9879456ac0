//! Signal processors and the contract they share.
//!
//! A [`ProcessSpec`] is fixed for a render. Every processor is built from its validated config
//! (building cannot fail), `prepare`d once (the only place that allocates), then `process`es
//! planar blocks in place. `latency` and `tail` let the engine align parallel paths and decide how
//! long to ring out. This module knows nothing of sessions, files or the command line.

pub mod config;
pub mod delay_line;
pub mod gain;
#[cfg(test)]
pub mod testkit;

use config::FxConfig;

/// Fixed facts of a render that processors size themselves for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSpec {
    /// Sample rate in Hz.
    pub sample_rate: f64,
    /// Largest block `process` will see, in frames.
    pub max_block: usize,
    /// Channel count of the blocks (the engine always uses 2).
    pub channels: usize,
}

/// The processor contract.
pub trait Processor: Send + Sync {
    /// Short name for messages, e.g. `"gain"`.
    fn name(&self) -> &'static str;
    /// Size internal state for `spec`. The only method that may allocate.
    fn prepare(&mut self, spec: &ProcessSpec);
    /// Clear all state (delay lines, envelopes) without allocating.
    fn reset(&mut self);
    /// Process a block in place: one slice per channel, all the same length (<= `max_block`).
    fn process(&mut self, block: &mut [&mut [f32]]);
    /// Process with a sidechain key signal (same length as `block`). Processors without a key
    /// input ignore it.
    fn process_keyed(&mut self, block: &mut [&mut [f32]], _key: &[&[f32]]) {
        self.process(block);
    }
    /// Delay this processor adds, in frames.
    fn latency(&self) -> usize {
        0
    }
    /// Frames of output that may follow the end of the input (reverb decay, echoes).
    fn tail(&self) -> usize {
        0
    }
}

/// A processor type that this build validates but cannot render yet.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {0} processor is not implemented yet")]
pub struct NotImplemented(pub &'static str);

/// Build a processor from its validated configuration.
pub fn build(cfg: &FxConfig, spec: &ProcessSpec) -> Result<Box<dyn Processor>, NotImplemented> {
    let mut p: Box<dyn Processor> = match cfg {
        FxConfig::Gain(g) => Box::new(gain::Gain::new(g.gain_db)),
        other => return Err(NotImplemented(other.type_name())),
    };
    p.prepare(spec);
    Ok(p)
}

/// Decibels to a linear amplitude factor.
#[inline]
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude to decibels (-inf for 0).
#[inline]
pub fn gain_to_db(g: f64) -> f64 {
    20.0 * g.log10()
}
