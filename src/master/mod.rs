//! Everything after the mix bus, in order: the master fx chain ([`premaster`]), reference
//! matching ([`reference`], [`matching`]), the loudness target stage ([`target`]: measure, plan
//! a static gain and a limiter curve, apply), the output stage ([`deliver`]: resample,
//! quantize with dither, write and verify what is written) and the measurements of the
//! finished master. Long signals live in [`store`]s on disk, so memory does not grow with the
//! song's length.

pub mod album;
pub mod deliver;
pub mod detect;
pub mod matching;
pub mod premaster;
pub mod reference;
pub mod store;
pub mod target;

use std::path::PathBuf;

use rayon::prelude::*;

use crate::analysis::loudness::{Levels, MeterError, Program};
use crate::io::resample::{ResampleError, StreamResampler};
use crate::io::stage::{StageError, Staged};
use crate::io::wav::{Dither, Encoding, WavError, Written};
use crate::session::model::Session;

pub use premaster::Premaster;
use store::{Store, StoreError};
pub use target::{TargetError, TargetOutcome};

/// Why mastering or delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Reference(#[from] reference::MatchError),
    #[error("{}: {source}", path.display())]
    Encode { path: PathBuf, source: WavError },
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("resampling the master from {from} Hz to {to} Hz: {source}")]
    Resample {
        from: u32,
        to: u32,
        source: ResampleError,
    },
    #[error(transparent)]
    Meter(#[from] MeterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what} is longer than the {seconds:.2} s master")]
    Seams { what: String, seconds: f64 },
}

/// A step of mastering, told as it starts (a progress display shows it: the premaster's
/// progress bar is done by then, and a long master takes a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reference matching: the master analysed against the reference.
    Matching,
    /// The premaster resampled to an output rate, Hz.
    Resampling(u32),
    /// The target stage measuring the master at an output rate (Hz): loudness, true peaks.
    Measuring(u32),
    /// One pass of the target stage's gain search, counted from 1 across the stage (a
    /// delivered output that overshoots is planned again, with further passes).
    Planning(usize),
    /// The outputs being written (how many) and checked as delivered.
    Writing(usize),
}

/// Told of every [`Step`] as it starts. `Sync`: outputs are written in parallel.
pub type Progress<'a> = &'a (dyn Fn(Step) + Sync);

/// One delivery file, written to a temporary file beside its destination and measured.
#[derive(Debug)]
pub struct Delivery {
    pub path: PathBuf,
    /// The complete file, waiting to be renamed into place (taken by the caller).
    pub staged: Option<Staged>,
    /// What was written: the audio data's SHA-256, clipped samples, frames.
    pub encoded: Written,
    /// Levels of the delivered (quantized, dithered) samples: integrated loudness, sample peak,
    /// the largest true-peak reading.
    pub levels: Levels,
    /// With `[master]` fades: the integrated loudness of the output before its fades (the song
    /// as the target stage made it), LUFS; `None` without fades.
    pub before_fades_lufs: Option<f64>,
    /// The largest reading of every true-peak meter of the delivered samples, dBTP.
    pub true_peak_dbtp: f64,
    pub sample_rate: u32,
    pub encoding: Encoding,
    pub dither: Dither,
    /// The limiter ceiling this output's master was made with (lower than the target's when the
    /// first delivery overshot), dBTP.
    pub ceiling_used_dbtp: Option<f64>,
    /// How many times the output stage was redone to keep the ceiling or the loudness.
    pub redone: usize,
    /// Mean-square energy of every 400 ms gating block of the delivered samples (BS.1770-4
    /// §2.8, channel-summed, 75 % overlap): an album's loudness is gated over these.
    pub blocks: Vec<f64>,
}

impl Delivery {
    /// The integrated loudness the loudness gate judges: the song as mastered, before the
    /// master's fades when it has any (a fade-out is not a miss of the target), LUFS.
    pub fn gated_lufs(&self) -> Option<f64> {
        self.before_fades_lufs.or(self.levels.integrated_lufs)
    }
}

/// The finished master and its deliveries.
#[derive(Debug)]
pub struct Mastered {
    /// What reference matching did, when the session asks for it.
    pub reference: Option<reference::MatchReport>,
    pub target: Option<TargetOutcome>,
    /// Why the target stage could not run (a silent or too short master), if it could not.
    pub target_skipped: Option<String>,
    /// Analysis of the master at the first output's rate, after the target stage.
    pub program: Program,
    /// The rate `program` (and `planes`) are at: the first output's.
    pub master_rate: u32,
    /// The master at the first output's rate, after the target stage, when asked for (plots).
    pub planes: Option<Vec<Vec<f32>>>,
    pub deliveries: Vec<Delivery>,
}

/// A store the master borrowed or made.
enum Src<'a> {
    Borrowed(&'a Store),
    Owned(Store),
}

impl Src<'_> {
    fn get(&self) -> &Store {
        match self {
            Src::Borrowed(s) => s,
            Src::Owned(s) => s,
        }
    }
}

/// The master at one delivery rate: the premaster resampled to it, and the target stage's
/// measurement and plan there.
pub(crate) struct AtRate<'a> {
    pub(crate) rate: u32,
    pre: Src<'a>,
    pub(crate) measurement: Option<target::Measurement>,
    pub(crate) plan: Option<target::GainPlan>,
    pub(crate) iterations: usize,
    /// The static gain was decided for an album and must stay: the output stage may lower the
    /// limiter's ceiling after an overshoot, but never searches another gain.
    pub(crate) fixed: bool,
}

impl AtRate<'_> {
    pub(crate) fn pre(&self) -> &Store {
        self.pre.get()
    }
}

/// The target stage's decision at one delivery rate: what a measurement file records and an
/// album plan hands back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePlan {
    /// The delivery rate, Hz.
    pub rate: u32,
    /// Integrated loudness of the premaster at this rate, LUFS.
    pub input_lufs: f64,
    /// Largest true-peak detector value of the premaster at this rate, dBTP.
    pub input_true_peak_dbtp: f64,
    pub plan: target::GainPlan,
    /// Gain/limiter evaluations the search took.
    pub iterations: usize,
}

/// The master before delivery: reference matching done, and at every delivery rate the
/// premaster there with the target stage's measurement (and, when searched, its plan).
pub struct Prepared<'a> {
    pub reference: Option<reference::MatchReport>,
    /// Why the target stage could not run (a silent or too short master), if it could not.
    pub target_skipped: Option<String>,
    stages: Vec<AtRate<'a>>,
}

impl Prepared<'_> {
    /// What the target stage measured on the premaster at the first output's rate, when it
    /// ran.
    pub fn first_measurement(&self) -> Option<&target::Measurement> {
        self.stages.first()?.measurement.as_ref()
    }

    /// What the target stage decided at each delivery rate (first output's rate first); empty
    /// without a target or when it could not run.
    pub fn rate_plans(&self) -> Vec<RatePlan> {
        self.stages
            .iter()
            .filter_map(|s| {
                let (m, p) = (s.measurement.as_ref()?, s.plan?);
                Some(RatePlan {
                    rate: s.rate,
                    input_lufs: m.input_lufs,
                    input_true_peak_dbtp: crate::dsp::gain_to_db(f64::from(m.peak)),
                    plan: p,
                    iterations: s.iterations,
                })
            })
            .collect()
    }

    /// The delivery rates, first output's first.
    pub fn rates(&self) -> Vec<u32> {
        self.stages.iter().map(|s| s.rate).collect()
    }

    /// Use `plan` at its rate instead of searching there. `fixed`: the gain must stay as
    /// planned (an album's gain); otherwise the output stage may re-aim it like a render does.
    /// False when there is no stage at that rate or the target stage could not run there.
    pub fn set_plan(&mut self, plan: &RatePlan, fixed: bool) -> bool {
        match self
            .stages
            .iter_mut()
            .find(|s| s.rate == plan.rate && s.measurement.is_some())
        {
            Some(s) => {
                s.plan = Some(plan.plan);
                s.iterations = plan.iterations;
                s.fixed = fixed;
                true
            }
            None => false,
        }
    }
}

/// Resample a store, streaming.
fn resample_store(src: &Store, from: u32, to: u32) -> Result<Store, MasterError> {
    let err = |source| MasterError::Resample { from, to, source };
    let mut r = StreamResampler::new(from, to, src.channels()).map_err(err)?;
    let mut out = Store::new("premaster at an output rate", src.channels())?;
    let mut buf = vec![Vec::new(); src.channels()];
    let take = |r: &mut StreamResampler, out: &mut Store| -> Result<(), MasterError> {
        let fifo = r.output();
        let n = fifo.len();
        if n > 0 {
            let planes = fifo.planes();
            out.push(&planes)?;
            fifo.consume(n);
        }
        Ok(())
    };
    let mut start = 0;
    while start < src.len() {
        let n = (1 << 15).min(src.len() - start);
        src.read(start as isize, n, &mut buf)?;
        r.push(&buf, n).map_err(err)?;
        take(&mut r, &mut out)?;
        start += n;
    }
    r.finish().map_err(err)?;
    take(&mut r, &mut out)?;
    out.seal()?;
    Ok(out)
}

/// Run reference matching and the target stage, analyse the master, and write every output
/// (each to a temporary file beside it; their folders must exist). With `keep_planes`, the
/// master at the first output's rate is also kept in memory (for plots). `progress` is told of
/// each step as it starts. This is [`prepare`] with the gain searched, then [`deliver`].
pub fn master(
    session: &Session,
    pre: &Premaster,
    keep_planes: bool,
    progress: Progress<'_>,
) -> Result<Mastered, MasterError> {
    let prepared = prepare(session, pre, true, progress)?;
    deliver(session, prepared, keep_planes, progress)
}

/// Reference matching, and the target stage's measurement at every delivery rate; with
/// `search`, also the static gain that meets the target (otherwise a plan must be set with
/// [`Prepared::set_plan`] before [`deliver`], or the master goes out as mixed).
///
/// The target stage runs at the rate of delivery, once per distinct output rate (first output
/// first): loudness and true peak are then measured on the signal that will be written, so a
/// lower output rate (which drops the top octave K-weighting counts) does not drift the
/// loudness, and no inter-sample peak is left for resampling to create.
pub fn prepare<'a>(
    session: &Session,
    pre: &'a Premaster,
    search: bool,
    progress: Progress<'_>,
) -> Result<Prepared<'a>, MasterError> {
    let rate = pre.rate;
    let (mut matched, reference) = match &session.master.reference {
        Some(r) => {
            progress(Step::Matching);
            let planes = pre.store.load()?;
            let (planes, report) =
                reference::apply(&planes, rate, r, session.master.target.is_some())?;
            (
                Some(Store::from_planes("matched premaster", &planes)?),
                Some(report),
            )
        }
        None => (None, None),
    };
    let mut rates: Vec<u32> = Vec::new();
    for o in &session.outputs {
        if !rates.contains(&o.sample_rate) {
            rates.push(o.sample_rate);
        }
    }
    // Other rates are resampled from the matched premaster first; then the session rate's
    // stage takes it over (or the premaster itself, unmatched).
    let mut srcs: Vec<Option<Src<'a>>> = Vec::with_capacity(rates.len());
    for &r in &rates {
        srcs.push(match r == rate {
            true => None,
            false => {
                progress(Step::Resampling(r));
                Some(Src::Owned(resample_store(
                    matched.as_ref().unwrap_or(&pre.store),
                    rate,
                    r,
                )?))
            }
        });
    }
    let srcs = srcs.into_iter().map(|s| {
        s.unwrap_or_else(|| match matched.take() {
            Some(m) => Src::Owned(m),
            None => Src::Borrowed(&pre.store),
        })
    });
    let mut target_skipped = None;
    let mut stages: Vec<AtRate<'a>> = Vec::with_capacity(rates.len());
    for (&r, src) in rates.iter().zip(srcs) {
        let mut at = AtRate {
            rate: r,
            pre: src,
            measurement: None,
            plan: None,
            iterations: 0,
            fixed: false,
        };
        if let Some(t) = &session.master.target {
            progress(Step::Measuring(r));
            match target::measure(at.pre(), r, t.lufs) {
                Ok(m) => {
                    if search {
                        let gain = target::first_gain(&m, t.lufs);
                        let ceiling = t.ceiling_dbtp - target::CEILING_MARGIN_DB;
                        let mut iterations = 0;
                        let p = target::plan(
                            at.pre(),
                            &m,
                            t.lufs,
                            gain,
                            ceiling,
                            &mut iterations,
                            progress,
                        )?;
                        at.iterations = iterations;
                        at.plan = Some(p);
                    }
                    at.measurement = Some(m);
                }
                Err(TargetError::Silent(_)) => {
                    target_skipped = Some(format!(
                        "the master is silent, so it cannot be brought to {} LUFS; it was written as mixed",
                        t.lufs
                    ));
                }
                Err(e @ TargetError::TooShort { .. }) => {
                    target_skipped = Some(format!(
                        "{e}, so it cannot be brought to {} LUFS; it was written as mixed",
                        t.lufs
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        stages.push(at);
    }
    Ok(Prepared {
        reference,
        target_skipped,
        stages,
    })
}

/// Write every output of a prepared master (each to a temporary file beside it; their folders
/// must exist) and analyse the master at the first output's rate. With `keep_planes`, that
/// master is also kept in memory (for plots).
pub fn deliver(
    session: &Session,
    prepared: Prepared<'_>,
    keep_planes: bool,
    progress: Progress<'_>,
) -> Result<Mastered, MasterError> {
    let Prepared {
        reference,
        target_skipped,
        stages,
    } = prepared;
    progress(Step::Writing(session.outputs.len()));
    let results: Vec<deliver::Delivered> = session
        .outputs
        .par_iter()
        .enumerate()
        .map(|(i, o)| {
            let st = stages
                .iter()
                .find(|s| s.rate == o.sample_rate)
                .unwrap_or(&stages[0]);
            deliver::deliver_one(session, st, i, o, i == 0, i == 0 && keep_planes, progress)
        })
        .collect::<Result<_, _>>()?;
    let mut deliveries = Vec::with_capacity(results.len());
    let mut first = None;
    for r in results {
        if r.program.is_some() {
            first = Some((r.program, r.planes, r.outcome));
        }
        deliveries.push(r.delivery);
    }
    let (program, planes, outcome) = first.expect("the first output is analysed");
    Ok(Mastered {
        reference,
        target: outcome,
        target_skipped,
        program: program.expect("the first output is analysed"),
        master_rate: stages[0].rate,
        planes,
        deliveries,
    })
}
