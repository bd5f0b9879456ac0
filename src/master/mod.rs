//! The stages after the mix: the loudness target stage (static gain + true-peak limiter), the
//! output stage (resample, quantize with dither, verify the true peak of what is written), and
//! the measurements of the finished master. Reference matching, when it lands, runs before the
//! target stage.

pub mod reference;
pub mod target;

use std::borrow::Cow;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::analysis::loudness::{self, Levels, Program};
use crate::engine::Mix;
use crate::io::resample::resample_all;
use crate::io::wav::{self, Dither, Encoded, Encoding};
use crate::session::model::{Session, Target};

pub use target::{TargetError, TargetOutcome};

/// Why mastering or delivery failed (I/O-free: the files are written by the caller).
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Reference(#[from] reference::MatchError),
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },
    #[error("{0}")]
    Meter(String),
}

/// One delivery file, encoded in memory and measured.
#[derive(Debug)]
pub struct Delivery {
    pub path: PathBuf,
    pub encoded: Encoded,
    /// Levels of the delivered (quantized, dithered) samples: integrated loudness, sample peak,
    /// BS.1770-4 4x true peak.
    pub levels: Levels,
    /// The larger of the 4x and 8x true-peak readings of the delivered samples, dBTP.
    pub true_peak_dbtp: f64,
    pub sample_rate: u32,
    pub encoding: Encoding,
    pub dither: Dither,
    /// The limiter ceiling this output's master was made with (lower than the target's when the
    /// first delivery overshot), dBTP.
    pub ceiling_used_dbtp: Option<f64>,
    /// How many times the output stage was redone to keep the ceiling.
    pub redone: usize,
}

/// The finished master and its deliveries.
#[derive(Debug)]
pub struct Mastered {
    /// What reference matching did, when the session asks for it.
    pub reference: Option<reference::MatchReport>,
    pub target: Option<TargetOutcome>,
    /// Why the target stage could not run (a silent master), if it could not.
    pub target_skipped: Option<String>,
    /// Analysis of the master at the first output's rate, after the target stage.
    pub program: Program,
    /// The rate `program` and `planes` are at: the first output's.
    pub master_rate: u32,
    /// The master at the first output's rate, after reference matching and the target stage;
    /// `None` when it is the mix as rendered (same rate, nothing applied).
    pub planes: Option<Vec<Vec<f32>>>,
    pub deliveries: Vec<Delivery>,
}

/// The master at one delivery rate: the premaster resampled to it, and the target stage's
/// result there.
struct AtRate<'a> {
    rate: u32,
    premaster: Cow<'a, [Vec<f32>]>,
    target: Option<TargetOutcome>,
}

/// Run reference matching and the target stage, analyse the master, and make every output.
///
/// The target stage runs at the rate of delivery, once per distinct output rate (first output
/// first): loudness and true peak are then measured on the signal that will be written, so a
/// lower output rate (which drops the top octave K-weighting counts) does not drift the
/// loudness, and no inter-sample peak is left for resampling to create.
pub fn master(session: &Session, mix: &Mix) -> Result<Mastered, MasterError> {
    let rate = mix.sample_rate;
    let (matched, reference) = match &session.master.reference {
        Some(r) => {
            let (planes, report) =
                reference::apply(&mix.planes, rate, r, session.master.target.is_some())?;
            (Some(planes), Some(report))
        }
        None => (None, None),
    };
    let premaster: &[Vec<f32>] = matched.as_deref().unwrap_or(&mix.planes);
    let mut rates: Vec<u32> = Vec::new();
    for o in &session.outputs {
        if !rates.contains(&o.sample_rate) {
            rates.push(o.sample_rate);
        }
    }
    let mut target_skipped = None;
    let mut stages: Vec<AtRate<'_>> = Vec::with_capacity(rates.len());
    for &r in &rates {
        let pre: Cow<'_, [Vec<f32>]> = if r == rate {
            Cow::Borrowed(premaster)
        } else {
            Cow::Owned(
                resample_all(premaster, rate, r).map_err(|e| MasterError::Meter(e.to_string()))?,
            )
        };
        let outcome = match &session.master.target {
            Some(t) => match target::apply(&pre, r, t.lufs, t.ceiling_dbtp) {
                Ok(o) => Some(o),
                Err(TargetError::Silent(_)) => {
                    target_skipped = Some(format!(
                        "the master is silent, so it cannot be brought to {} LUFS; it was written as mixed",
                        t.lufs
                    ));
                    None
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        stages.push(AtRate {
            rate: r,
            premaster: pre,
            target: outcome,
        });
    }
    let first = &stages[0];
    let first_master: &[Vec<f32>] = first
        .target
        .as_ref()
        .map_or(&first.premaster, |o| &o.planes);
    let (program, deliveries) = rayon::join(
        || {
            loudness::analyze_program(first_master, first.rate)
                .map_err(|e| MasterError::Meter(e.to_string()))
        },
        || {
            session
                .outputs
                .par_iter()
                .enumerate()
                .map(|(i, o)| {
                    let st = stages
                        .iter()
                        .find(|s| s.rate == o.sample_rate)
                        .unwrap_or(&stages[0]);
                    deliver_one(session, st, i, o)
                })
                .collect::<Result<Vec<_>, _>>()
        },
    );
    let program = program?;
    let deliveries = deliveries?;
    let master_rate = stages[0].rate;
    let first = stages.swap_remove(0);
    drop(stages);
    let (mut first_target, first_owned) = match first.premaster {
        Cow::Owned(p) => (first.target, Some(p)),
        Cow::Borrowed(_) => (first.target, None),
    };
    let planes = match first_target.as_mut() {
        Some(t) => Some(std::mem::take(&mut t.planes)),
        None => first_owned.or(matched),
    };
    Ok(Mastered {
        reference,
        target: first_target,
        target_skipped,
        program,
        master_rate,
        planes,
        deliveries,
    })
}

/// Quantize and measure one output from the master at its rate; with a target, verify the
/// delivered samples: if dither lifted the true peak over the ceiling, lower the limiter's
/// ceiling by the overshoot; if the loudness drifted, aim the target stage by the difference;
/// then redo this output.
fn deliver_one(
    session: &Session,
    st: &AtRate<'_>,
    index: usize,
    o: &crate::session::model::Output,
) -> Result<Delivery, MasterError> {
    let err = |message: String| MasterError::Output {
        path: o.path.clone(),
        message,
    };
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
        .map_err(|e| err(e.to_string()))?;
        let levels =
            loudness::measure_encoded(&encoded, o.sample_rate).map_err(|e| err(e.to_string()))?;
        let eight = crate::dsp::truepeak::true_peak(&encoded.planar_f32());
        let true_peak_dbtp = levels.true_peak_dbtp.max(20.0 * f64::from(eight).log10());
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
