//! Loudness and peak measurement of a finished signal (ITU-R BS.1770-4 / EBU R128 via ebur128).

use ebur128::{EbuR128, Mode};
use rayon::prelude::*;

use crate::dsp::gain_to_db;
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

fn err(e: ebur128::Error) -> MeterError {
    MeterError(format!("{e:?}"))
}

/// Frames fed to the meters at a time.
const CHUNK: usize = 1 << 16;

/// Streaming meter: integrated loudness and sample peak over all channels, plus one true-peak
/// meter per channel so the 4x-oversampling filters of the channels run in parallel.
pub struct Meter {
    loudness: EbuR128,
    true_peak: Vec<EbuR128>,
    clipped: u64,
}

impl Meter {
    pub fn new(channels: usize, rate: u32) -> Result<Self, MeterError> {
        Self::with_modes(channels, rate, Mode::empty())
    }

    /// A meter whose loudness measurement also keeps `extra` (e.g. momentary, short-term and
    /// loudness range for [`analyze_program`]), in the same pass.
    pub fn with_modes(channels: usize, rate: u32, extra: Mode) -> Result<Self, MeterError> {
        let loudness = EbuR128::new(channels as u32, rate, Mode::I | Mode::SAMPLE_PEAK | extra)
            .map_err(err)?;
        let true_peak = (0..channels)
            .map(|_| EbuR128::new(1, rate, Mode::TRUE_PEAK).map_err(err))
            .collect::<Result<_, _>>()?;
        Ok(Meter {
            loudness,
            true_peak,
            clipped: 0,
        })
    }

    /// Feed planar frames (one slice per channel, equal lengths).
    pub fn add(&mut self, planes: &[&[f32]]) -> Result<(), MeterError> {
        let (a, b) = rayon::join(
            || self.loudness.add_frames_planar_f32(planes).map_err(err),
            || {
                self.true_peak
                    .par_iter_mut()
                    .zip(planes.par_iter())
                    .try_for_each(|(m, p)| m.add_frames_planar_f32(&[p]).map_err(err))
            },
        );
        a?;
        b?;
        self.clipped += planes
            .iter()
            .flat_map(|p| p.iter())
            .filter(|x| x.abs() >= crate::io::decode::FULL_SCALE)
            .count() as u64;
        Ok(())
    }

    pub fn levels(&self) -> Levels {
        let channels = self.true_peak.len() as u32;
        let sp = (0..channels)
            .map(|c| self.loudness.sample_peak(c).unwrap_or(0.0))
            .fold(0.0, f64::max);
        let tp = self
            .true_peak
            .iter()
            .map(|m| m.true_peak(0).unwrap_or(0.0))
            .fold(0.0, f64::max);
        Levels {
            integrated_lufs: self
                .loudness
                .loudness_global()
                .ok()
                .filter(|l| l.is_finite()),
            sample_peak_dbfs: gain_to_db(sp),
            // The true peak is never below the sample peak (the oversampler's passband ripple
            // can read a hair under a full-scale sample).
            true_peak_dbtp: gain_to_db(tp.max(sp)),
            clipped_samples: self.clipped,
        }
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
    /// EBU Tech 3342 loudness range, LU.
    pub lra: Option<f64>,
    /// Largest momentary (400 ms) loudness, LUFS.
    pub max_momentary: Option<f64>,
    /// Largest short-term (3 s) loudness, LUFS.
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
    /// Momentary and short-term loudness every 100 ms (None where silent).
    pub momentary: Vec<Option<f64>>,
    pub shortterm: Vec<Option<f64>>,
}

fn finite(x: Result<f64, ebur128::Error>) -> Option<f64> {
    x.ok().filter(|v| v.is_finite())
}

/// Full loudness and stereo analysis of planar audio (1 or 2 channels).
pub fn analyze_program(planes: &[Vec<f32>], rate: u32) -> Result<Program, MeterError> {
    let ch = planes.len();
    // One pass: loudness, range, momentary and short-term, sample and true peak.
    let mut meter = Meter::with_modes(ch, rate, Mode::LRA | Mode::M | Mode::S)?;
    let n = planes.first().map_or(0, Vec::len);
    let step = (rate as usize).div_ceil(10);
    let mut momentary = Vec::with_capacity(n / step + 1);
    let mut shortterm = Vec::with_capacity(n / step + 1);
    let mut start = 0;
    while start < n {
        let end = (start + step).min(n);
        let slices: Vec<&[f32]> = planes.iter().map(|p| &p[start..end]).collect();
        meter.add(&slices)?;
        let e = &meter.loudness;
        // Windows that have not filled yet read as silence.
        momentary.push(if end >= step * 4 {
            finite(e.loudness_momentary())
        } else {
            None
        });
        shortterm.push(if end >= step * 30 {
            finite(e.loudness_shortterm())
        } else {
            None
        });
        start = end;
    }
    let levels = meter.levels();
    let lra = finite(meter.loudness.loudness_range());
    let max_of = |v: &[Option<f64>]| v.iter().flatten().copied().reduce(f64::max);
    let (sum_sq, sum): (Vec<f64>, Vec<f64>) = planes
        .iter()
        .map(|p| {
            p.iter().fold((0.0, 0.0), |(q, s), &x| {
                let x = f64::from(x);
                (q + x * x, s + x)
            })
        })
        .unzip();
    let total = (n * ch) as f64;
    let rms = (sum_sq.iter().sum::<f64>() / total.max(1.0)).sqrt();
    let peak = 10f64.powf(levels.sample_peak_dbfs / 20.0);
    let crest_db = (rms > 0.0).then(|| 20.0 * (peak / rms).log10());
    let dc_offset = sum.iter().map(|s| s / (n.max(1) as f64)).collect();
    let (correlation, mono_fold_loss) = if ch == 2 {
        let lr: f64 = planes[0]
            .iter()
            .zip(&planes[1])
            .map(|(&l, &r)| f64::from(l) * f64::from(r))
            .sum();
        let denom = (sum_sq[0] * sum_sq[1]).sqrt();
        let corr = (denom > 0.0).then(|| lr / denom);
        let mono: Vec<f32> = planes[0]
            .iter()
            .zip(&planes[1])
            .map(|(&l, &r)| 0.5 * (l + r))
            .collect();
        let mut m = EbuR128::new(2, rate, Mode::I).map_err(err)?;
        let mut s = 0;
        while s < n {
            let end = (s + CHUNK).min(n);
            m.add_frames_planar_f32(&[&mono[s..end], &mono[s..end]])
                .map_err(err)?;
            s = end;
        }
        let loss = match (levels.integrated_lufs, finite(m.loudness_global())) {
            (Some(st), Some(mo)) => Some(st - mo),
            (Some(_), None) => Some(f64::INFINITY),
            _ => None,
        };
        (corr, loss)
    } else {
        (None, None)
    };
    Ok(Program {
        lra,
        max_momentary: max_of(&momentary),
        max_shortterm: max_of(&shortterm),
        plr: levels.integrated_lufs.map(|i| levels.true_peak_dbtp - i),
        crest_db,
        dc_offset,
        correlation,
        mono_fold_loss,
        momentary,
        shortterm,
        levels,
    })
}
