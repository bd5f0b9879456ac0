//! Running level meter for tracks and buses: sample peak and BS.1770-4 integrated loudness
//! (the lean meter of `analysis::bs1770`, constant memory per block of audio), and the figures
//! the report shows for each node.

use crate::analysis::bs1770::IntegratedMeter;
use crate::dsp::gain_to_db;

/// Levels measured on one track or bus while rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStats {
    pub name: String,
    /// Sample peak of the node's output (after its fader), dBFS.
    pub peak_dbfs: f64,
    /// Integrated loudness of the node's output (after its fader), LUFS; None when silent.
    pub integrated_lufs: Option<f64>,
    pub muted: bool,
}

/// Per-track extras: what the source stem held.
#[derive(Debug, Clone, PartialEq)]
pub struct StemStats {
    /// None when the stem was not decoded (a muted track).
    pub source_peak_dbfs: Option<f64>,
    pub source_clipped: u64,
}

pub struct BlockMeter {
    loudness: IntegratedMeter,
    peak: f32,
}

impl BlockMeter {
    pub fn new(rate: u32) -> Self {
        BlockMeter {
            loudness: IntegratedMeter::new(2, rate),
            peak: 0.0,
        }
    }

    /// Measure a stereo block (pre-fader; the fader is applied to the figures at the end).
    pub fn add(&mut self, block: &[&[f32]; 2]) {
        self.add_peak(block);
        self.loudness.add(&block[..]);
    }

    /// The sample-peak half of [`BlockMeter::add`]; the block's loudness goes to
    /// [`BlockMeter::loudness_mut`] separately (several meters can share one pass).
    pub fn add_peak(&mut self, block: &[&[f32]; 2]) {
        for ch in block {
            for &x in ch.iter() {
                let a = x.abs();
                if a > self.peak {
                    self.peak = a;
                }
            }
        }
    }

    /// The loudness meter, to be fed every block [`BlockMeter::add_peak`] saw.
    pub fn loudness_mut(&mut self) -> &mut IntegratedMeter {
        &mut self.loudness
    }

    /// Figures after a linear `fader` gain: loudness and peak both shift by its dB value.
    pub fn stats(&self, name: &str, fader: f64, muted: bool) -> NodeStats {
        let fader_db = gain_to_db(fader);
        NodeStats {
            name: name.to_string(),
            peak_dbfs: gain_to_db(f64::from(self.peak)) + fader_db,
            integrated_lufs: if muted {
                None
            } else {
                self.loudness.integrated().map(|l| l + fader_db)
            },
            muted,
        }
    }
}
