//! Loudness and peak measurement of a finished signal (ITU-R BS.1770-4 / EBU R128) on
//! mixdown's own meters: the integrated loudness of [`Meter`] (`bs1770::IntegratedMeter`), and
//! the full program analysis of the master report and `analyze` (`bs1770::ProgramMeter`),
//! both held to ebur128's readings within 0.01 LU by their tests. True peaks are ebur128's
//! reading, made bit for bit by [`Ebur128Peak`] (the same interpolator, a block at a time).

use rayon::prelude::*;

use super::bs1770::{IntegratedMeter, ProgramMeter};
use crate::dsp::gain_to_db;
use crate::dsp::truepeak::Ebur128Peak;
use crate::io::wav::Encoded;

/// Levels of a stereo (or mono) signal. Silence gives `None` loudness and `-inf` peaks.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// Integrated loudness, LUFS (gated, BS.1770-4).
    pub integrated_lufs: Option<f64>,
    /// Largest absolute sample, dBFS.
    pub sample_peak_dbfs: f64,
    /// Largest inter-sample peak (4x oversampled below 96 kHz), dBTP.
    pub true_peak_dbtp: f64,
    /// Samples at or beyond digital full scale.
    pub clipped_samples: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("loudness measurement failed: {0}")]
pub struct MeterError(String);

/// Frames fed to the meters at a time.
const CHUNK: usize = 1 << 16;

/// Sample peak, BS.1770-4 true peak (read as ebur128 reads it, bit for bit) and clipped
/// samples, one true-peak meter per channel so the channels' oversampling filters run in
/// parallel.
struct Peaks {
    meters: Vec<Ebur128Peak>,
    samples: Vec<f32>,
    clipped: u64,
}

impl Peaks {
    fn new(channels: usize, rate: u32) -> Self {
        Peaks {
            meters: vec![Ebur128Peak::new(rate); channels],
            samples: vec![0.0; channels],
            clipped: 0,
        }
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    fn add(&mut self, planes: &[&[f32]]) {
        self.meters
            .par_iter_mut()
            .zip(self.samples.par_iter_mut())
            .zip(planes.par_iter())
            .for_each(|((m, s), p)| {
                m.add(p);
                *s = p.iter().fold(*s, |a, x| a.max(x.abs()));
            });
        self.clipped += planes
            .iter()
            .flat_map(|p| p.iter())
            .filter(|x| x.abs() >= crate::io::decode::FULL_SCALE)
            .count() as u64;
    }

    /// The levels, with `integrated_lufs` measured elsewhere.
    fn levels(&self, integrated_lufs: Option<f64>) -> Levels {
        let sp = f64::from(self.samples.iter().fold(0.0f32, |m, &v| m.max(v)));
        let tp = f64::from(self.meters.iter().fold(0.0f32, |m, p| m.max(p.peak())));
        Levels {
            integrated_lufs,
            sample_peak_dbfs: gain_to_db(sp),
            // The true peak is never below the sample peak (the oversampler's passband ripple
            // can read a hair under a full-scale sample).
            true_peak_dbtp: gain_to_db(tp.max(sp)),
            clipped_samples: self.clipped,
        }
    }
}

/// Streaming meter: integrated loudness over all channels (mixdown's BS.1770-4 meter, held to
/// ebur128's reading within 0.01 LU), plus sample and true peak.
pub struct Meter {
    loudness: IntegratedMeter,
    peaks: Peaks,
}

impl Meter {
    pub fn new(channels: usize, rate: u32) -> Result<Self, MeterError> {
        Ok(Meter {
            loudness: IntegratedMeter::new(channels, rate),
            peaks: Peaks::new(channels, rate),
        })
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    pub fn add(&mut self, planes: &[&[f32]]) -> Result<(), MeterError> {
        rayon::join(|| self.loudness.add(planes), || self.peaks.add(planes));
        Ok(())
    }

    pub fn levels(&self) -> Levels {
        self.peaks.levels(self.loudness.integrated())
    }
}

/// Measure integrated loudness, sample peak and true peak of planar audio.
pub fn measure(planes: &[Vec<f32>], rate: u32) -> Result<Levels, MeterError> {
    let mut m = Meter::new(planes.len(), rate)?;
    let n = planes.first().map_or(0, Vec::len);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let slices: Vec<&[f32]> = planes.iter().map(|p| &p[start..end]).collect();
        m.add(&slices)?;
        start = end;
    }
    Ok(m.levels())
}

/// Measure the samples of an encoded WAV as they will be delivered (after quantization and
/// dither), block by block.
pub fn measure_encoded(enc: &Encoded, rate: u32) -> Result<Levels, MeterError> {
    let mut m = Meter::new(enc.channels, rate)?;
    let mut buf = vec![Vec::with_capacity(CHUNK); enc.channels];
    let mut start = 0;
    while start < enc.frames {
        let end = (start + CHUNK).min(enc.frames);
        enc.decode_range(start..end, &mut buf);
        let slices: Vec<&[f32]> = buf.iter().map(|p| &p[..]).collect();
        m.add(&slices)?;
        start = end;
    }
    Ok(m.levels())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, rate: u32, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// EBU Tech 3341 case 1: stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS (±0.1).
    #[test]
    fn tech3341_case1_minus23() {
        let amp = 10f64.powf(-23.0 / 20.0);
        let s = sine(1000.0, amp, 48000, 20.0);
        let l = measure(&[s.clone(), s], 48000).unwrap();
        let i = l.integrated_lufs.unwrap();
        assert!((i + 23.0).abs() <= 0.1, "{i}");
    }

    /// Tech 3341 case 2: -33 dBFS reads -33.0 LUFS; chunked and whole feeds agree.
    #[test]
    fn tech3341_case2_minus33_and_true_peak_of_a_sine() {
        let amp = 10f64.powf(-33.0 / 20.0);
        let s = sine(1000.0, amp, 48000, 20.0);
        let l = measure(&[s.clone(), s], 48000).unwrap();
        assert!((l.integrated_lufs.unwrap() + 33.0).abs() <= 0.1);
        assert!((l.sample_peak_dbfs + 33.0).abs() < 0.01);
        assert!(
            (l.true_peak_dbtp + 33.0).abs() < 0.05,
            "{}",
            l.true_peak_dbtp
        );
    }

    /// A sine at fs/4 sampled at ±45° never shows its peak in the samples: sample peak is
    /// 3 dB below the true peak (the classic inter-sample-peak case).
    #[test]
    fn inter_sample_peak_is_seen() {
        let n = 48000;
        let s: Vec<f32> = (0..n)
            .map(|i| {
                (0.5 * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin())
                    as f32
            })
            .collect();
        let l = measure(&[s.clone(), s], 48000).unwrap();
        let sp = l.sample_peak_dbfs;
        assert!((sp - 20.0 * (0.5f64 * std::f64::consts::FRAC_1_SQRT_2).log10()).abs() < 0.01);
        assert!(
            (l.true_peak_dbtp - 20.0 * 0.5f64.log10()).abs() < 0.3,
            "{}",
            l.true_peak_dbtp
        );
    }

    #[test]
    fn silence_has_no_loudness() {
        let l = measure(&[vec![0.0; 48000], vec![0.0; 48000]], 48000).unwrap();
        assert_eq!(l.integrated_lufs, None);
        assert_eq!(l.sample_peak_dbfs, f64::NEG_INFINITY);
    }
}

/// Everything `analyze` and the master report say about a finished signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub levels: Levels,
    /// EBU Tech 3342 loudness range from short-term loudness every 100 ms, LU; None when no
    /// 3 s window passes the gates (silence, or shorter than 3 s).
    pub lra: Option<f64>,
    /// Largest momentary (400 ms) loudness over the windows ending at every sample, LUFS.
    pub max_momentary: Option<f64>,
    /// Largest short-term (3 s) loudness over the windows ending at every sample, LUFS.
    pub max_shortterm: Option<f64>,
    /// Peak-to-loudness ratio: true peak minus integrated loudness, dB.
    pub plr: Option<f64>,
    /// Crest factor: sample peak over RMS (all channels), dB.
    pub crest_db: Option<f64>,
    /// Mean value of each channel (DC offset), linear.
    pub dc_offset: Vec<f64>,
    /// Pearson correlation of left and right (1 mono, 0 unrelated, -1 out of phase); None for
    /// mono or silence.
    pub correlation: Option<f64>,
    /// Loudness lost when the stereo signal is folded to mono ((L+R)/2 on both sides), LU.
    pub mono_fold_loss: Option<f64>,
    /// Momentary and short-term loudness of the windows ending every 100 ms
    /// (`bs1770::step_frames`; the last one at the last sample), None where silent or before
    /// the window has filled.
    pub momentary: Vec<Option<f64>>,
    pub shortterm: Vec<Option<f64>>,
}

/// Everything [`Program`] holds, measured as a stream: feed blocks, then [`finish`].
///
/// [`finish`]: ProgramAnalyzer::finish
pub struct ProgramAnalyzer {
    loudness: ProgramMeter,
    peaks: Peaks,
    sums: Sums,
    frames: usize,
}

impl ProgramAnalyzer {
    pub fn new(channels: usize, rate: u32) -> Result<Self, MeterError> {
        Ok(ProgramAnalyzer {
            loudness: ProgramMeter::new(channels, rate),
            peaks: Peaks::new(channels, rate),
            sums: Sums::new(channels),
            frames: 0,
        })
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    pub fn add(&mut self, planes: &[&[f32]]) -> Result<(), MeterError> {
        rayon::join(
            || {
                self.loudness.add(planes);
                self.sums.add(planes);
            },
            || self.peaks.add(planes),
        );
        self.frames += planes.first().map_or(0, |p| p.len());
        Ok(())
    }

    pub fn finish(self) -> Program {
        let ProgramAnalyzer {
            loudness,
            peaks,
            sums,
            frames: n,
        } = self;
        let loud = loudness.finish();
        let ch = sums.squares.len();
        let levels = peaks.levels(loud.integrated);
        let total = (n * ch) as f64;
        let rms = (sums.squares.iter().sum::<f64>() / total.max(1.0)).sqrt();
        let peak = 10f64.powf(levels.sample_peak_dbfs / 20.0);
        let crest_db = (rms > 0.0).then(|| 20.0 * (peak / rms).log10());
        let dc_offset = sums.values.iter().map(|s| s / (n.max(1) as f64)).collect();
        let (correlation, mono_fold_loss) = if ch == 2 {
            let denom = (sums.squares[0] * sums.squares[1]).sqrt();
            let corr = (denom > 0.0).then(|| sums.cross / denom);
            let loss = match (levels.integrated_lufs, loud.mono_integrated) {
                (Some(st), Some(mo)) => Some(st - mo),
                (Some(_), None) => Some(f64::INFINITY),
                _ => None,
            };
            (corr, loss)
        } else {
            (None, None)
        };
        Program {
            lra: loud.range,
            max_momentary: loud.max_momentary,
            max_shortterm: loud.max_shortterm,
            plr: levels.integrated_lufs.map(|i| levels.true_peak_dbtp - i),
            crest_db,
            dc_offset,
            correlation,
            mono_fold_loss,
            momentary: loud.momentary,
            shortterm: loud.shortterm,
            levels,
        }
    }
}

/// Full loudness and stereo analysis of planar audio (1 or 2 channels): [`ProgramAnalyzer`]
/// over the whole signal.
pub fn analyze_program(planes: &[Vec<f32>], rate: u32) -> Result<Program, MeterError> {
    let mut a = ProgramAnalyzer::new(planes.len(), rate)?;
    let n = planes.first().map_or(0, Vec::len);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let slices: Vec<&[f32]> = planes.iter().map(|p| &p[start..end]).collect();
        a.add(&slices)?;
        start = end;
    }
    Ok(a.finish())
}

/// Per-channel sums of squares and of values, and the sum of left times right (stereo), in f64.
struct Sums {
    squares: Vec<f64>,
    values: Vec<f64>,
    cross: f64,
}

impl Sums {
    fn new(channels: usize) -> Self {
        Sums {
            squares: vec![0.0; channels],
            values: vec![0.0; channels],
            cross: 0.0,
        }
    }

    /// Continue the sums over more frames (in order, so the totals do not depend on the
    /// blocks).
    fn add(&mut self, planes: &[&[f32]]) {
        for ((q, s), p) in self.squares.iter_mut().zip(&mut self.values).zip(planes) {
            for &x in p.iter() {
                let x = f64::from(x);
                *q += x * x;
                *s += x;
            }
        }
        if let [l, r] = planes {
            for (&l, &r) in l.iter().zip(r.iter()) {
                self.cross += f64::from(l) * f64::from(r);
            }
        }
    }
}
