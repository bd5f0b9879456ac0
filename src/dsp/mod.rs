//! Signal processors and the contract they share.
//!
//! A [`ProcessSpec`] is fixed for a render. Every processor is built from its validated config
//! (building cannot fail), `prepare`d once (the only place that allocates), then `process`es
//! planar blocks in place. `latency` and `tail` let the engine align parallel paths and decide how
//! long to ring out. This module knows nothing of session files, other files or the command line.

pub mod biquad;
pub mod config;
pub mod convolution;
pub mod crossover;
pub mod db;
pub mod delay;
pub mod delay_line;
pub mod dynamics;
pub mod envelope;
pub mod eq;
pub mod fade;
pub mod fir;
pub mod gain;
pub mod limiter;
pub mod multiband;
pub mod predelay;
pub mod reverb;
pub mod saturation;
pub mod simd;
pub mod truepeak;
pub mod vmath;
pub mod width;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use config::FxConfig;

pub use db::{db_to_gain, gain_to_db};

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
pub trait Processor: Send {
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
    /// Move an automatable parameter to `value` (in the session file's units, within the key's
    /// range): the processor reaches it by the last frame of the next block it processes,
    /// ramping gains and mixes per sample, and updating filters and other settings once per
    /// block. The engine calls it every [`envelope::AUTO_BLOCK`] frames. Before `prepare` it is
    /// called with every value the envelope reaches at its points, then with its first value,
    /// so a processor can size lines and its tail for the whole range. Returns false when the
    /// processor has no such parameter (validation only lets through the ones it has).
    fn set_param(&mut self, _param: envelope::ParamId, _value: f64) -> bool {
        false
    }
    /// Delay this processor adds, in frames.
    fn latency(&self) -> usize {
        0
    }
    /// Frames of output that may follow the end of the input (reverb decay, echoes).
    fn tail(&self) -> usize {
        0
    }
    /// The part of this processor that can run beside others of its kind on other tracks'
    /// blocks ([`Batch`]), when the next block it processes needs nothing else (no moving
    /// settings); `None` otherwise. Run that way, the results are bit for bit those of
    /// `process`.
    fn batch(&mut self) -> Option<Batch<'_>> {
        None
    }
}

/// Processors of one kind a [`Batch`] pass runs side by side, at most.
pub const GROUP: usize = 4;

/// A processor that several tracks can run side by side, one lane each: a recursion waits on
/// its own last output, so one track at a time leaves the CPU idle between steps, and the
/// other tracks' recursions fill that time. See [`dynamics::Compressor::process_group`].
pub enum Batch<'a> {
    /// A compressor on its own program (no sidechain key).
    Compressor(&'a mut dynamics::Compressor),
    /// The filters of an EQ whose settings are not moving.
    Cascade(&'a mut biquad::Cascade),
}

/// A processor type that this build validates but cannot render yet.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {0} processor is not implemented yet")]
pub struct NotImplemented(pub &'static str);

/// Data processors need that does not fit in a config: impulse responses, decoded and resampled
/// to the session rate by the engine before anything is built.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub impulse_responses: HashMap<PathBuf, Arc<Vec<Vec<f32>>>>,
}

/// Build a processor from its validated configuration, prepared for `spec`.
pub fn build(
    cfg: &FxConfig,
    spec: &ProcessSpec,
    res: &Resources,
) -> Result<Box<dyn Processor>, NotImplemented> {
    let mut p = construct(cfg, res)?;
    p.prepare(spec);
    Ok(p)
}

/// A processor from its validated configuration, not yet prepared: automated parameters are
/// set before `prepare`, so a processor whose set-up depends on a parameter (a convolution
/// reverb with no wet signal skips its convolver) sets itself up for the values to come.
pub fn construct(cfg: &FxConfig, res: &Resources) -> Result<Box<dyn Processor>, NotImplemented> {
    let p: Box<dyn Processor> = match cfg {
        FxConfig::Gain(g) => Box::new(gain::Gain::new(g.gain_db)),
        FxConfig::Eq(e) if e.phase == config::Phase::Linear => Box::new(fir::LinearPhaseEq::new(e)),
        FxConfig::Eq(e) => Box::new(eq::Eq::new(e)),
        FxConfig::Multiband(m) => Box::new(multiband::Multiband::new(m)),
        FxConfig::Width(w) => Box::new(width::Width::new(w)),
        FxConfig::Compressor(c) => Box::new(dynamics::Compressor::new(c)),
        FxConfig::Gate(c) => Box::new(dynamics::Gate::new(c)),
        FxConfig::Deesser(c) => Box::new(dynamics::Deesser::new(c)),
        FxConfig::Saturation(c) => Box::new(saturation::Saturation::new(c)),
        FxConfig::Delay(c) => Box::new(delay::Delay::new(c)),
        FxConfig::Chorus(c) => Box::new(delay::Chorus::new(c)),
        FxConfig::Reverb(r) => match &r.kind {
            config::ReverbKind::Algorithmic {
                model,
                decay_s,
                damping,
                width,
            } => Box::new(reverb::Reverb::new(
                *model,
                *decay_s,
                *damping,
                *width,
                r.predelay_ms,
                r.mix,
            )),
            config::ReverbKind::Convolution { ir } => match res.impulse_responses.get(ir) {
                Some(s) => Box::new(convolution::ConvolutionReverb::new(
                    Arc::clone(s),
                    r.predelay_ms,
                    r.mix,
                )),
                None => return Err(NotImplemented("reverb (impulse response not loaded)")),
            },
        },
    };
    Ok(p)
}

/// Values smaller than this (-600 dBFS) are set to zero in recursive state and outputs: far
/// below audibility and far above `f32`'s subnormals (1.2e-38), which are slow on x86, so a
/// decaying recursion reaches exact zero instead of crawling through them.
pub const FLUSH: f64 = 1e-30;

/// `x`, or exactly zero when below [`FLUSH`].
#[inline]
pub fn flush(x: f64) -> f64 {
    if x.abs() < FLUSH { 0.0 } else { x }
}

/// Convert a processed sample to the `f32` of the block, flushing an `f32` subnormal to zero
/// (a tiny `f64` is still a normal number, but its `f32` may not be).
#[inline]
pub fn to_f32(y: f64) -> f32 {
    let y = y as f32;
    if y.is_subnormal() { 0.0 } else { y }
}
