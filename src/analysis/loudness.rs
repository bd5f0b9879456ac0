//! Loudness and peak measurement of a finished signal (ITU-R BS.1770-4 / EBU R128 via ebur128).

use ebur128::{EbuR128, Mode};

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

/// Measure integrated loudness, sample peak and true peak.
pub fn measure(planes: &[Vec<f32>], rate: u32) -> Result<Levels, MeterError> {
    let ch = planes.len() as u32;
    let mut e = EbuR128::new(ch, rate, Mode::I | Mode::TRUE_PEAK | Mode::SAMPLE_PEAK)
        .map_err(|e| MeterError(format!("{e:?}")))?;
    let n = planes.first().map_or(0, Vec::len);
    let step = 1 << 16;
    let mut start = 0;
    while start < n {
        let end = (start + step).min(n);
        let slices: Vec<&[f32]> = planes.iter().map(|p| &p[start..end]).collect();
        e.add_frames_planar_f32(&slices)
            .map_err(|e| MeterError(format!("{e:?}")))?;
        start = end;
    }
    let mut sp: f64 = 0.0;
    let mut tp: f64 = 0.0;
    for c in 0..ch {
        sp = sp.max(e.sample_peak(c).unwrap_or(0.0));
        tp = tp.max(e.true_peak(c).unwrap_or(0.0));
    }
    let clipped = planes
        .iter()
        .flat_map(|p| p.iter())
        .filter(|x| x.abs() >= crate::io::decode::FULL_SCALE)
        .count() as u64;
    Ok(Levels {
        integrated_lufs: e.loudness_global().ok().filter(|l| l.is_finite()),
        sample_peak_dbfs: 20.0 * sp.log10(),
        true_peak_dbtp: 20.0 * tp.log10(),
        clipped_samples: clipped,
    })
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

    #[test]
    fn silence_has_no_loudness() {
        let l = measure(&[vec![0.0; 48000], vec![0.0; 48000]], 48000).unwrap();
        assert_eq!(l.integrated_lufs, None);
        assert_eq!(l.sample_peak_dbfs, f64::NEG_INFINITY);
    }
}
