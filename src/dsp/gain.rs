//! Gain: a fixed factor, or one that follows an envelope in dB, ramped per sample.

use super::envelope::{ParamId, ParamKey, Ramp};
use super::{ProcessSpec, Processor, db_to_gain};

/// Multiplies every sample by a factor.
#[derive(Debug, Clone)]
pub struct Gain {
    factor: f32,
    /// The gain in dB; it moves only under automation.
    gain_db: Ramp,
}

impl Gain {
    /// `gain_db` in dB (validated to -96..+24).
    pub fn new(gain_db: f64) -> Self {
        Gain {
            factor: db_to_gain(gain_db) as f32,
            gain_db: Ramp::new(gain_db),
        }
    }
}

impl Processor for Gain {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn prepare(&mut self, _spec: &ProcessSpec) {}

    fn reset(&mut self) {}

    fn process(&mut self, block: &mut [&mut [f32]]) {
        if self.gain_db.moving() {
            // A straight line in dB from the last value to the new one, per sample.
            let n = block.first().map_or(0, |c| c.len());
            let (start, step) = self.gain_db.begin(n);
            for i in 0..n {
                let g = db_to_gain(start + step * (i + 1) as f64) as f32;
                for ch in block.iter_mut() {
                    ch[i] *= g;
                }
            }
            self.factor = db_to_gain(self.gain_db.target()) as f32;
            return;
        }
        for ch in block.iter_mut() {
            for x in ch.iter_mut() {
                *x *= self.factor;
            }
        }
    }

    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        if param.key != ParamKey::GainDb {
            return false;
        }
        self.gain_db.set(value);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_db_doubles_within_rounding() {
        let mut g = Gain::new(20.0 * 2f64.log10());
        let mut l = [0.25f32, -0.5];
        let mut r = [0.0f32, 0.1];
        g.process(&mut [&mut l, &mut r]);
        assert_eq!(l, [0.5, -1.0]);
        assert!((r[1] - 0.2).abs() < 1e-7);
    }

    #[test]
    fn contract_invariants() {
        crate::testkit::assert_invariants(&|| Box::new(Gain::new(-3.0)), 48000.0, 0.0);
        let mut g = Gain::new(-6.0);
        let db = crate::testkit::sine_gain_db(&mut g, 48000.0, 1000.0, 0.5);
        assert!((db + 6.0).abs() < 1e-4, "{db}");
    }
}
