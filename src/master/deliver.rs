//! The output stage: the master at an output's rate streamed through the target stage's gain
//! and limiter, quantized (with the output's dither, seeded from the session), written block by
//! block to a temporary file beside the destination, and measured as delivered: integrated
//! loudness, sample peak, every true-peak meter. With a target, a delivered true peak over the
//! ceiling lowers the limiter's ceiling by the overshoot, and a loudness drift re-aims the
//! gain; then this output is made again.

use crate::analysis::bs1770::IntegratedMeter;
use crate::analysis::loudness::{Levels, Program, ProgramAnalyzer};
use crate::dsp::gain_to_db;
use crate::io::decode::FULL_SCALE;
use crate::io::stage;
use crate::io::wav::{self, Format};
use crate::session::model::{Output, Session};

use super::detect::EnvelopeStream;
use super::target::{self, Mastering, TargetOutcome};
use super::{AtRate, Delivery, MasterError, Progress};

/// Frames per block.
const BLOCK: usize = 1 << 15;

/// Most times one output is made again.
const MAX_REDOS: usize = 4;

/// A delivery and, for the first output, what the master itself measured.
pub(crate) struct Delivered {
    pub(crate) delivery: Delivery,
    pub(crate) program: Option<Program>,
    pub(crate) planes: Option<Vec<Vec<f32>>>,
    pub(crate) outcome: Option<TargetOutcome>,
}

/// Make output `index`, `o`, from the master at its rate. `analyse`: also measure the master
/// itself (the report's master section); `keep`: also keep it in memory.
pub(crate) fn deliver_one(
    session: &Session,
    at: &AtRate<'_>,
    index: usize,
    o: &Output,
    analyse: bool,
    keep: bool,
    progress: Progress<'_>,
) -> Result<Delivered, MasterError> {
    let encode_err = |source| MasterError::Encode {
        path: o.path.clone(),
        source,
    };
    let target = session
        .master
        .target
        .as_ref()
        .filter(|_| at.measurement.is_some());
    let mut plan = at.plan;
    let mut iterations = at.iterations;
    let mut aim = target.map(|t| t.lufs);
    let mut redone = 0;
    // Each output gets its own dither stream, derived from the session.
    let seed = session.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let format = Format {
        channels: at.pre().channels(),
        sample_rate: o.sample_rate,
        encoding: o.encoding,
        dither: o.dither,
        seed,
    };
    loop {
        let pre = at.pre();
        let channels = pre.channels();
        let mut file = if o.stdout {
            stage::spool_writer(&o.path)?
        } else {
            stage::stage_writer(&o.path)?
        };
        let mut wav = wav::Writer::new(&mut file, &format, &session.tags, pre.len() as u64)
            .map_err(encode_err)?;
        let mut stream = Mastering::new(pre, at.measurement.as_ref().zip(plan.as_ref()));
        let mut meter = IntegratedMeter::new(channels, o.sample_rate);
        let mut detector = EnvelopeStream::new(channels, o.sample_rate);
        let mut program = match analyse {
            true => Some(ProgramAnalyzer::new(channels, o.sample_rate)?),
            false => None,
        };
        let mut planes: Option<Vec<Vec<f32>>> = keep.then(|| vec![Vec::new(); channels]);
        let (mut peak, mut true_peak, mut clipped) = (0.0f32, 0.0f32, 0u64);
        let mut buf = vec![Vec::new(); channels];
        let mut delivered = vec![Vec::new(); channels];
        while stream.next(BLOCK, &mut buf)? > 0 {
            let refs: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
            wav.write(&refs, Some(&mut delivered)).map_err(encode_err)?;
            if let Some(p) = &mut program {
                p.add(&refs)?;
            }
            if let Some(k) = &mut planes {
                for (k, b) in k.iter_mut().zip(&buf) {
                    k.extend_from_slice(b);
                }
            }
            let out: Vec<&[f32]> = delivered.iter().map(|d| &d[..]).collect();
            meter.add(&out);
            for d in &out {
                for &x in d.iter() {
                    peak = peak.max(x.abs());
                    clipped += u64::from(x.abs() >= FULL_SCALE);
                }
            }
            detector.push(&out, &mut |_, env| {
                true_peak = env.iter().fold(true_peak, |m, &v| m.max(v));
            });
        }
        detector.finish(&mut |_, env| {
            true_peak = env.iter().fold(true_peak, |m, &v| m.max(v));
        });
        let (_, written) = wav.finish().map_err(encode_err)?;
        let true_peak_dbtp = gain_to_db(f64::from(true_peak.max(peak)));
        let levels = Levels {
            integrated_lufs: meter.integrated(),
            sample_peak_dbfs: gain_to_db(f64::from(peak)),
            true_peak_dbtp,
            clipped_samples: clipped,
        };
        if let (Some(t), Some(p), Some(lufs), Some(m)) =
            (target, plan, aim, at.measurement.as_ref())
        {
            let over = true_peak_dbtp - t.ceiling_dbtp;
            // Only re-aim when the stage itself could reach the target: an unreachable target
            // stays a failed gate, reported, not chased.
            let reachable = (p.lufs - t.lufs).abs() <= 0.1;
            let miss = match levels.integrated_lufs {
                Some(i) if reachable => i - t.lufs,
                _ => 0.0,
            };
            // (The ceiling goes down by at most 1 dB in all: beyond that the overshoot is not
            // the gain ramps' doing, and the honest outcome is a failed gate.)
            let lower = over > 0.0 && t.ceiling_dbtp - p.ceiling_db < 1.0;
            let reaim = miss.abs() > target::AIM_LU * 2.0;
            if (lower || reaim) && redone < MAX_REDOS {
                let ceiling = if lower {
                    p.ceiling_db - (over + 0.005)
                } else {
                    p.ceiling_db
                };
                let lufs = if reaim { lufs - miss } else { lufs };
                plan = Some(target::plan(
                    pre,
                    m,
                    lufs,
                    p.gain_db,
                    ceiling,
                    &mut iterations,
                    progress,
                )?);
                aim = Some(lufs);
                redone += 1;
                continue;
            }
        }
        let program = program.map(ProgramAnalyzer::finish);
        let outcome = match (analyse, at.measurement.as_ref(), plan) {
            (true, Some(m), Some(p)) => Some(TargetOutcome {
                input_lufs: m.input_lufs,
                static_gain_db: p.gain_db,
                achieved_lufs: program
                    .as_ref()
                    .and_then(|g| g.levels.integrated_lufs)
                    .unwrap_or(p.lufs),
                limiter: stream.limiter(),
                ceiling_dbtp: p.ceiling_db,
                true_peak_dbtp,
                iterations,
            }),
            _ => None,
        };
        return Ok(Delivered {
            delivery: Delivery {
                path: o.path.clone(),
                staged: Some(file.finish()?),
                encoded: written,
                levels,
                true_peak_dbtp,
                sample_rate: o.sample_rate,
                encoding: o.encoding,
                dither: o.dither,
                ceiling_used_dbtp: plan.map(|p| p.ceiling_db),
                redone,
            },
            program,
            planes,
            outcome,
        });
    }
}
