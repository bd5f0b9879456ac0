//! The premaster: the mix bus through the master's own fx chain, at the session rate, with the
//! mix bus's levels measured on the way in. [`render`] builds the engine's graph, aligns the
//! master chain's sidechain keys with it, and is the engine's sink: it drops the frames the
//! latency of the mix and of the master chain put in front of the song, writes the rest to a
//! [`Store`] on disk (so memory does not grow with the song), and cuts an automatic tail where
//! the ringing falls below -90 dBFS.

use indicatif::ProgressBar;

use crate::analysis::loudness::{Levels, Meter};
use crate::engine::build::TAIL_FLOOR;
use crate::engine::{self, Chain, Keys, MixSink, MixStats, RenderError};
use crate::session::model::{Session, Tail};

use super::store::{Store, StoreError};

/// The master before reference matching and the target stage.
#[derive(Debug)]
pub struct Premaster {
    /// Left and right after the master fx chain, at the session rate, latency removed.
    pub store: Store,
    pub rate: u32,
    /// Levels of the mix bus as it enters the master fx chain.
    pub mix_levels: Levels,
    /// Frames up to the end of the last stem (the rest is tail).
    pub content_frames: u64,
}

impl Premaster {
    /// Length in frames.
    pub fn frames(&self) -> usize {
        self.store.len()
    }
}

/// Why the premaster could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PremasterError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine's sink: meter the mix bus, run the master chain, keep the result.
struct Sink<'p> {
    chain: Chain,
    meter: Meter,
    /// Frames at the start that only hold latency.
    latency: u64,
    out: Store,
    /// Frames written, and one past the last frame at or above the tail floor.
    written: u64,
    loud_end: u64,
    failed: Option<StoreError>,
    rate: u32,
    progress: &'p ProgressBar,
}

impl MixSink for Sink<'_> {
    fn write(
        &mut self,
        mix: &mut [Vec<f32>; 2],
        n: usize,
        keys: &Keys,
        frame: u64,
    ) -> Result<(), RenderError> {
        self.meter.add(&[&mix[0][..n], &mix[1][..n]])?;
        self.chain.run(mix, n, keys, frame, self.rate)?;
        // Drop the first `latency` frames: the master starts when its latest path starts.
        let skip = self.latency.saturating_sub(frame).min(n as u64) as usize;
        let (l, r) = (&mix[0][skip..n], &mix[1][skip..n]);
        if let Some(last) = (0..l.len())
            .rev()
            .find(|&i| l[i].abs() >= TAIL_FLOOR || r[i].abs() >= TAIL_FLOOR)
        {
            self.loud_end = self.written + last as u64 + 1;
        }
        if let Err(e) = self.out.push(&[l, r]) {
            self.failed.get_or_insert(e);
        }
        self.written += l.len() as u64;
        self.progress.inc((n - skip) as u64);
        Ok(())
    }
}

/// Render the session's tracks and buses and run the master fx chain: the premaster and what
/// was measured on the way. Runs on the current rayon pool.
pub fn render(
    session: &Session,
    progress: &ProgressBar,
) -> Result<(MixStats, Premaster), PremasterError> {
    let rate = session.sample_rate;
    let graph = engine::build(session)?;
    let mut chain = Chain::build(&session.master.fx, graph.spec(), graph.resources())?;
    chain.align_keys(graph.mix_latency(), &|k| graph.track_latency(k));
    let content_frames = graph.content_frames();
    let total = content_frames + graph.tail_frames(session.tail, chain.tail());
    progress.set_length(total);
    let latency = (graph.mix_latency() + chain.latency()) as u64;
    let mut sink = Sink {
        chain,
        meter: Meter::new(2, rate).map_err(RenderError::from)?,
        latency,
        out: Store::new("premaster", 2)?,
        written: 0,
        loud_end: 0,
        failed: None,
        rate,
        progress,
    };
    let stats = graph.run(session, total + latency, &mut sink)?;
    if let Some(e) = sink.failed {
        return Err(e.into());
    }
    let mut out = sink.out;
    // An automatic tail ends where the ringing falls below -90 dBFS.
    if session.tail == Tail::Auto {
        let end = sink.loud_end.max(content_frames).min(sink.written);
        out.truncate(end as usize)?;
    }
    out.seal()?;
    progress.finish_and_clear();
    Ok((
        stats,
        Premaster {
            store: out,
            rate,
            mix_levels: sink.meter.levels(),
            content_frames,
        },
    ))
}
