//! Running level meter for tracks and buses: sample peak and ITU-R BS.1770-4 integrated
//! loudness (ebur128, histogram mode so memory stays constant over any song length).

use ebur128::{EbuR128, Mode};

use super::render::NodeStats;

pub struct BlockMeter {
    ebu: Option<EbuR128>,
    peak: f32,
}

impl BlockMeter {
    pub fn new(rate: u32) -> Self {
        BlockMeter {
            ebu: EbuR128::new(2, rate, Mode::I | Mode::HISTOGRAM).ok(),
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
        if let Some(e) = &mut self.ebu {
            // Only fails on a channel-count mismatch, which cannot happen here.
            let _ = e.add_frames_planar_f32(&[block[0], block[1]]);
        }
    }

    /// Figures after a linear `fader` gain: loudness and peak both shift by its dB value.
    pub fn stats(&self, name: &str, fader: f64, muted: bool) -> NodeStats {
        let fader_db = 20.0 * fader.log10();
        let lufs = self
            .ebu
            .as_ref()
            .and_then(|e| e.loudness_global().ok())
            .filter(|l| l.is_finite())
            .map(|l| l + fader_db);
        NodeStats {
            name: name.to_string(),
            peak_dbfs: 20.0 * f64::from(self.peak).log10() + fader_db,
            integrated_lufs: if muted { None } else { lufs },
            muted,
        }
    }
}
