//! Everything after the mix bus, in order: the master fx chain ([`premaster`]), reference
//! matching ([`reference`]), the loudness target stage ([`target`]: measure, plan a static gain
//! and a limiter curve, apply), the output stage ([`deliver`]: resample, quantize with dither,
//! verify what is written) and the measurements of the finished master.

pub mod deliver;
pub mod matching;
pub mod premaster;
pub mod reference;
pub mod target;

use std::borrow::Cow;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::analysis::loudness::{self, Levels, MeterError, Program};
use crate::io::resample::{ResampleError, resample_all};
use crate::io::wav::{Dither, Encoded, Encoding, WavError};
use crate::session::model::Session;

pub use premaster::Premaster;
pub use target::{TargetError, TargetOutcome};

/// Why mastering or delivery failed (I/O-free: the files are written by the caller).
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Reference(#[from] reference::MatchError),
    #[error("{}: {source}", path.display())]
    Encode { path: PathBuf, source: WavError },
    #[error("{}: {source}", path.display())]
    Measure { path: PathBuf, source: MeterError },
    #[error("resampling the master from {from} Hz to {to} Hz: {source}")]
    Resample {
        from: u32,
        to: u32,
        source: ResampleError,
    },
    #[error(transparent)]
    Meter(#[from] MeterError),
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
pub(crate) struct AtRate<'a> {
    pub(crate) rate: u32,
    pub(crate) premaster: Cow<'a, [Vec<f32>]>,
    pub(crate) target: Option<TargetOutcome>,
}

/// Run reference matching and the target stage, analyse the master, and make every output.
///
/// The target stage runs at the rate of delivery, once per distinct output rate (first output
/// first): loudness and true peak are then measured on the signal that will be written, so a
/// lower output rate (which drops the top octave K-weighting counts) does not drift the
/// loudness, and no inter-sample peak is left for resampling to create.
pub fn master(session: &Session, pre: &Premaster) -> Result<Mastered, MasterError> {
    let rate = pre.rate;
    let (matched, reference) = match &session.master.reference {
        Some(r) => {
            let (planes, report) =
                reference::apply(&pre.planes, rate, r, session.master.target.is_some())?;
            (Some(planes), Some(report))
        }
        None => (None, None),
    };
    let premaster: &[Vec<f32>] = matched.as_deref().unwrap_or(&pre.planes);
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
            Cow::Owned(resample_all(premaster, rate, r).map_err(|source| {
                MasterError::Resample {
                    from: rate,
                    to: r,
                    source,
                }
            })?)
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
        || loudness::analyze_program(first_master, first.rate).map_err(MasterError::from),
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
                    deliver::deliver_one(session, st, i, o)
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
