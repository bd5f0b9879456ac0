//! The output stage: quantize the master at an output's rate (with its dither, seeded from the
//! session), encode the WAV in memory, and measure what will be delivered; with a target, a
//! delivered true peak over the ceiling or a loudness drift re-aims the target stage.

use crate::analysis::loudness;
use crate::dsp::gain_to_db;
use crate::io::wav;
use crate::session::model::{Output, Session, Target};

use super::{AtRate, Delivery, MasterError, target};

/// Quantize and measure one output from the master at its rate; with a target, verify the
/// delivered samples: if dither lifted the true peak over the ceiling, lower the limiter's
/// ceiling by the overshoot; if the loudness drifted, aim the target stage by the difference;
/// then redo this output.
pub(crate) fn deliver_one(
    session: &Session,
    st: &AtRate<'_>,
    index: usize,
    o: &Output,
) -> Result<Delivery, MasterError> {
    let outcome = st.target.as_ref();
    let target: Option<&Target> = session.master.target.as_ref().filter(|_| outcome.is_some());
    let mastered: &[Vec<f32>] = outcome.map_or(&st.premaster, |t| &t.planes);
    let mut redo: Option<Vec<Vec<f32>>> = None;
    let mut ceiling_used = outcome.map(|t| t.ceiling_dbtp);
    let mut aim = target.map(|t| t.lufs);
    let mut redone = 0;
    loop {
        let source: &[Vec<f32>] = redo.as_deref().unwrap_or(mastered);
        // Each output gets its own dither stream, derived from the session.
        let seed = session.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let encoded = wav::encode(
            source,
            o.sample_rate,
            o.encoding,
            o.dither,
            seed,
            &session.tags,
        )
        .map_err(|source| MasterError::Encode {
            path: o.path.clone(),
            source,
        })?;
        let levels = loudness::measure_encoded(&encoded, o.sample_rate).map_err(|source| {
            MasterError::Measure {
                path: o.path.clone(),
                source,
            }
        })?;
        // Every meter's reading of the delivered samples: the exact reconstruction and the
        // standard meters (BS.1770 Annex 2, libebur128, Kaiser 4x, ffmpeg's 192 kHz).
        let delivered = encoded.planar_f32();
        let meters = delivered
            .iter()
            .map(|p| {
                crate::dsp::truepeak::ceiling_envelope(p, o.sample_rate)
                    .into_iter()
                    .fold(0.0f32, f32::max)
            })
            .fold(0.0f32, f32::max);
        let true_peak_dbtp = levels.true_peak_dbtp.max(gain_to_db(f64::from(meters)));
        if let (Some(t), Some(mut ceiling), Some(mut lufs)) = (target, ceiling_used, aim) {
            let over = true_peak_dbtp - t.ceiling_dbtp;
            // Only re-aim when the stage itself could reach the target: an unreachable target
            // stays a failed gate, reported, not chased.
            let reachable = outcome.is_some_and(|o| (o.achieved_lufs - t.lufs).abs() <= 0.1);
            let miss = match levels.integrated_lufs {
                Some(i) if reachable => i - t.lufs,
                _ => 0.0,
            };
            if (over > 0.0 || miss.abs() > target::AIM_LU * 2.0) && redone < 4 {
                if over > 0.0 {
                    ceiling -= over + 0.01;
                }
                if miss.abs() > target::AIM_LU * 2.0 {
                    lufs -= miss;
                }
                let again = target::apply(&st.premaster, st.rate, lufs, ceiling)?;
                ceiling_used = Some(again.ceiling_dbtp);
                aim = Some(lufs);
                redo = Some(again.planes);
                redone += 1;
                continue;
            }
        }
        return Ok(Delivery {
            path: o.path.clone(),
            encoded,
            levels,
            true_peak_dbtp,
            sample_rate: o.sample_rate,
            encoding: o.encoding,
            dither: o.dither,
            ceiling_used_dbtp: ceiling_used,
            redone,
        });
    }
}
