//! Running level meter for tracks and buses: sample peak and BS.1770-4 integrated loudness
//! (the lean meter of `analysis::bs1770`, constant memory per block of audio).

use crate::analysis::bs1770::IntegratedMeter;

use super::render::NodeStats;

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
        for ch in block {
            for &x in ch.iter() {
                let a = x.abs();
                if a > self.peak {
                    self.peak = a;
                }
            }
        }
        self.loudness.add(&block[..]);
    }

    /// Figures after a linear `fader` gain: loudness and peak both shift by its dB value.
    pub fn stats(&self, name: &str, fader: f64, muted: bool) -> NodeStats {
        let fader_db = 20.0 * fader.log10();
        NodeStats {
            name: name.to_string(),
            peak_dbfs: 20.0 * f64::from(self.peak).log10() + fader_db,
            integrated_lufs: if muted {
                None
            } else {
                self.loudness.integrated().map(|l| l + fader_db)
            },
            muted,
        }
    }
}
