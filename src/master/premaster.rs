//! The premaster: the mix bus through the master's own fx chain, at the session rate, with the
//! mix bus's levels measured on the way in. [`render`] builds the engine's graph, aligns the
//! master chain's sidechain keys with it, and is the engine's sink: it drops the frames the
//! latency of the mix and of the master chain put in front of the song, and cuts an automatic
//! tail where the ringing falls below -90 dBFS.

use indicatif::ProgressBar;

use crate::analysis::loudness::{Levels, Meter};
use crate::engine::build::TAIL_FLOOR;
use crate::engine::{self, Chain, Keys, MixSink, MixStats, RenderError};
use crate::session::model::{Session, Tail};

/// The master before reference matching and the target stage.
#[derive(Debug, Clone)]
pub struct Premaster {
    /// Left and right after the master fx chain, at the session rate, latency removed.
    pub planes: Vec<Vec<f32>>,
    pub rate: u32,
    /// Levels of the mix bus as it enters the master fx chain.
    pub mix_levels: Levels,
    /// Frames up to the end of the last stem (the rest is tail).
    pub content_frames: u64,
}

impl Premaster {
    /// Length in frames.
    pub fn frames(&self) -> usize {
        self.planes.first().map_or(0, Vec::len)
    }
}

/// The engine's sink: meter the mix bus, run the master chain, keep the result.
struct Sink<'p> {
    chain: Chain,
    meter: Meter,
    /// Frames at the start that only hold latency.
    latency: u64,
    out: Vec<Vec<f32>>,
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
        self.out[0].extend_from_slice(&mix[0][skip..n]);
        self.out[1].extend_from_slice(&mix[1][skip..n]);
        self.progress.inc((n - skip) as u64);
        Ok(())
    }
}

/// Render the session's tracks and buses and run the master fx chain: the premaster and what
/// was measured on the way. Runs on the current rayon pool.
pub fn render(
    session: &Session,
    progress: &ProgressBar,
) -> Result<(MixStats, Premaster), RenderError> {
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
        meter: Meter::new(2, rate)?,
        latency,
        out: (0..2).map(|_| Vec::with_capacity(total as usize)).collect(),
        rate,
        progress,
    };
    let stats = graph.run(session, total + latency, &mut sink)?;
    let mut out = sink.out;
    // An automatic tail ends where the ringing falls below -90 dBFS.
    if session.tail == Tail::Auto {
        let content = content_frames as usize;
        let mut end = out[0].len();
        while end > content
            && out[0][end - 1].abs() < TAIL_FLOOR
            && out[1][end - 1].abs() < TAIL_FLOOR
        {
            end -= 1;
        }
        out[0].truncate(end);
        out[1].truncate(end);
    }
    progress.finish_and_clear();
    Ok((
        stats,
        Premaster {
            planes: out,
            rate,
            mix_levels: sink.meter.levels(),
            content_frames,
        },
    ))
}
