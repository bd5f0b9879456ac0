//! Building a render before it runs: impulse responses loaded, every track and bus chain built,
//! sidechain keys and parallel paths aligned, the routing plan fixed, the song's length known
//! and every stem that must render placed (its file is opened when the render reaches it).
//! Nothing here processes audio.

use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::dsp::config::{FxConfig, ReverbKind};
use crate::dsp::{self, ProcessSpec, Resources};
use crate::session::model::{Clip, Fx, MixAutomation, Session, Tail, Track};

use super::chain::{Chain, Keys};
use super::error::RenderError;
use super::meter::BlockMeter;
use super::plan::{self, NodeTimes, Plan};
use super::run::{BusState, EdgeDelays, MixEnvelopes, Placement, TrackState};
use super::source::{ClipPlan, Placed, SourceError, TrackSource};
use crate::dsp::fade::Fades;

/// The engine's blocks are whole multiples of this many frames.
pub const BLOCK_UNIT: usize = 8192;
/// Most units per block.
const MAX_UNITS: usize = 4;
/// Stereo block buffers of [`BLOCK_UNIT`] frames the tracks and buses may hold in all (about
/// 2.5 MB) before blocks stop growing.
const UNIT_BUDGET: usize = 40;

/// Frames per block for a render of `nodes` tracks and buses: the longest whole number of
/// [`BLOCK_UNIT`]s, up to [`MAX_UNITS`], whose buffers fit [`UNIT_BUDGET`] (never less than one
/// unit). Longer blocks mean fewer hand-overs between threads per second of song, which costs
/// CPU time while one waits; the budget keeps memory flat in the number of stems. Every
/// processor gives the same output for any cut of the signal into blocks, so the choice changes
/// nothing in the audio (a loudness meter's 100 ms sums are added up block by block, so a
/// track's measured loudness may differ in its last bits, far below the report's 0.01).
pub fn block_frames(nodes: usize) -> usize {
    (UNIT_BUDGET / nodes.max(1)).clamp(1, MAX_UNITS) * BLOCK_UNIT
}

/// Hard cap on an automatic tail.
pub const MAX_AUTO_TAIL_S: f64 = 30.0;

/// Level below which an automatic tail counts as silent: -90 dBFS.
pub const TAIL_FLOOR: f32 = 3.162_277_7e-5;

/// A session ready to render: built chains, opened stems, the routing plan.
pub struct Graph {
    pub(super) spec: ProcessSpec,
    pub(super) plan: Plan,
    /// One entry per track; `None` for tracks that do not render (muted and keying nothing).
    pub(super) tracks: Vec<Option<TrackState>>,
    pub(super) buses: Vec<BusState>,
    pub(super) bus_delays: Vec<EdgeDelays>,
    pub(super) master_delays: EdgeDelays,
    pub(super) keys: Keys,
    /// Latency of each track's output relative to the stems, frames.
    track_latency: Vec<usize>,
    /// Frames up to the end of the last placed stem.
    content_frames: u64,
    resources: Resources,
}

impl Graph {
    /// The processing format of every block.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// Latency of the mix arriving at the master relative to the stems, frames.
    pub fn mix_latency(&self) -> usize {
        self.plan.mix_latency
    }

    /// Latency of track `k`'s output relative to the stems, frames (for sidechain keys).
    pub fn track_latency(&self, k: usize) -> usize {
        self.track_latency[k]
    }

    /// Frames up to the end of the last placed stem (muted ones included: muting does not
    /// shorten a song).
    pub fn content_frames(&self) -> u64 {
        self.content_frames
    }

    /// Impulse responses, decoded and resampled to the session rate.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Frames of the rendered song after the last stem: a fixed tail, or the ringing of every
    /// path (`extra_ringing` is what follows the mix, the master chain's) capped at
    /// [`MAX_AUTO_TAIL_S`]; an automatic tail is cut again where it falls below [`TAIL_FLOOR`].
    pub fn tail_frames(&self, tail: Tail, extra_ringing: usize) -> u64 {
        let rate = self.spec.sample_rate;
        match tail {
            Tail::Seconds(s) => (s * rate).round() as u64,
            Tail::Auto => {
                ((self.plan.tail + extra_ringing) as u64).min((MAX_AUTO_TAIL_S * rate) as u64)
            }
        }
    }
}

/// Where `clip` plays, from its file's length in the header where it states one and the track
/// renders (the render then decodes it to its end). A file that does not render (muted, keying
/// nothing) is decoded in full here, as `check` decodes it, so a damaged stem fails a render
/// whether or not it is heard. `open_end`: the region may play whatever the resampler delivers
/// past the header's length (a lone stem without `end_s` or a fade-out).
fn placement(clip: &Clip, rate: u32, renders: bool, open_end: bool) -> Result<Placed, SourceError> {
    let frames = match clip.stem.frames {
        Some(f) if renders => f,
        _ => crate::io::decode::scan(&clip.file)?.frames,
    };
    let resampled = (frames * u64::from(rate)).div_ceil(u64::from(clip.stem.sample_rate));
    let r = &clip.region;
    let skip = offset_frames(r.start_s, rate).min(resampled);
    let end = r
        .end_s
        .map_or(resampled, |e| offset_frames(e, rate).min(resampled));
    let len = end.saturating_sub(skip);
    // Validation keeps the fades within the region; rounding may still pass it by a frame.
    let fade_in = offset_frames(r.fade_in_s, rate).min(len);
    let fade_out = offset_frames(r.fade_out_s, rate).min(len - fade_in);
    Ok(Placed {
        offset: offset_frames(clip.at_s, rate),
        skip,
        fades: Fades {
            len,
            fade_in,
            fade_out,
            curve: r.fade_curve,
        },
        limit: if open_end && r.end_s.is_none() && fade_out == 0 {
            u64::MAX
        } else {
            len
        },
    })
}

/// The regions of `track` placed in the song, in the order they are summed (by start, then as
/// written), each with the crossfade into its successor: where a region starts before the one
/// before it ends, the earlier fades out and the later fades in over the overlap (longer fades
/// of their own stay). Equal frames on both sides make the two gains mirror images, so an
/// equal-power pair keeps constant power and a linear pair sums to one.
fn clip_plans(track: &Track, rate: u32, renders: bool) -> Result<Vec<ClipPlan>, RenderError> {
    let clips = track.clips();
    let lone = clips.len() == 1;
    let mut plans = Vec::with_capacity(clips.len());
    for c in &clips {
        let placed = placement(c, rate, renders, lone).map_err(|source| RenderError::Source {
            track: track.name.clone(),
            file: c.file_display.clone(),
            source,
        })?;
        plans.push(ClipPlan {
            path: c.file.clone(),
            display: c.file_display.clone(),
            info: c.stem.clone(),
            placed,
            gain: dsp::db_to_gain(c.gain_db) as f32,
        });
    }
    plans.sort_by_key(|p| p.placed.offset);
    for k in 1..plans.len() {
        let (a, b) = (&plans[k - 1].placed, &plans[k].placed);
        let overlap = (a.offset + a.fades.len)
            .saturating_sub(b.offset)
            .min(b.fades.len);
        if overlap == 0 {
            continue;
        }
        let a = &mut plans[k - 1].placed.fades;
        a.fade_out = a.fade_out.max(overlap).min(a.len);
        let b = &mut plans[k].placed.fades;
        b.fade_in = b.fade_in.max(overlap).min(b.len);
    }
    Ok(plans)
}

fn offset_frames(offset_s: f64, rate: u32) -> u64 {
    (offset_s * f64::from(rate)).round() as u64
}

/// The envelopes of a node's pan, width and fader, read `latency` frames after the stems;
/// `None` when none of them is automated (the static path).
fn mix_envelopes(
    auto: &MixAutomation,
    pan: f64,
    width: f64,
    mono: bool,
    latency: usize,
    block: usize,
) -> Option<MixEnvelopes> {
    if auto.gain_db.is_none() && auto.pan.is_none() && auto.width.is_none() {
        return None;
    }
    let post = if auto.gain_db.is_some() {
        [vec![0.0; block], vec![0.0; block]]
    } else {
        [Vec::new(), Vec::new()]
    };
    Some(MixEnvelopes {
        pan: (pan, auto.pan.clone()),
        width: (width, auto.width.clone()),
        fader: auto.gain_db.clone(),
        mono,
        latency,
        post,
    })
}

/// Every chain of the session: tracks', buses', the master's.
fn all_chains(session: &Session) -> impl Iterator<Item = &Vec<Fx>> {
    session
        .tracks
        .iter()
        .map(|t| &t.fx)
        .chain(session.buses.iter().map(|b| &b.fx))
        .chain(std::iter::once(&session.master.fx))
}

/// Decode and resample every impulse response the session's reverbs name.
fn load_resources(session: &Session, rate: u32) -> Result<Resources, RenderError> {
    let mut wanted: Vec<(String, PathBuf)> = Vec::new();
    for fx in all_chains(session) {
        for f in fx {
            if let FxConfig::Reverb(r) = &f.config
                && let ReverbKind::Convolution { ir } = &r.kind
                && !wanted.iter().any(|(_, p)| p == ir)
            {
                wanted.push((f.path.clone(), ir.clone()));
            }
        }
    }
    let loaded: Vec<(PathBuf, Arc<Vec<Vec<f32>>>)> = wanted
        .par_iter()
        .map(|(path, file)| {
            let wrap = |source: SourceError| RenderError::ImpulseResponse {
                path: path.clone(),
                file: file.display().to_string(),
                source,
            };
            let (info, planes) = crate::io::decode::decode_all(file).map_err(|e| wrap(e.into()))?;
            let planes = crate::io::resample::resample_all(&planes, info.sample_rate, rate)
                .map_err(|e| wrap(e.into()))?;
            Ok((file.clone(), Arc::new(planes)))
        })
        .collect::<Result<_, RenderError>>()?;
    Ok(Resources {
        impulse_responses: loaded.into_iter().collect(),
    })
}

/// Build a chain from a node's fx list.
pub fn build_chain(fx: &[Fx], spec: &ProcessSpec, res: &Resources) -> Result<Chain, RenderError> {
    Chain::build(fx, spec, res)
}

/// Build the render of `session`'s tracks and buses (the master's own chain is the master's).
/// Runs on the current rayon pool (impulse responses and stems are opened in parallel).
pub fn build(session: &Session) -> Result<Graph, RenderError> {
    let rate = session.sample_rate;
    let block = block_frames(session.tracks.len() + session.buses.len());
    let spec = ProcessSpec {
        sample_rate: f64::from(rate),
        max_block: block,
        channels: 2,
    };
    let resources = load_resources(session, rate)?;
    let mut track_chains: Vec<Chain> = session
        .tracks
        .iter()
        .map(|t| build_chain(&t.fx, &spec, &resources))
        .collect::<Result<_, _>>()?;
    let mut bus_chains: Vec<Chain> = session
        .buses
        .iter()
        .map(|b| build_chain(&b.fx, &spec, &resources))
        .collect::<Result<_, _>>()?;

    // Sidechain keys of tracks: keys render in earlier groups, so align group by group.
    let mut track_latency: Vec<usize> = track_chains.iter().map(Chain::latency).collect();
    for group in plan::track_levels(session)? {
        for t in group {
            let lat = track_latency.clone();
            track_chains[t].align_keys(0, &|k| lat[k]);
            track_latency[t] = track_chains[t].latency();
        }
    }
    // Buses depend on the routing plan, which depends on their latency: align until no
    // program delay grows (they only grow, so this ends).
    let plan = loop {
        let times = NodeTimes {
            track_latency: track_latency.clone(),
            track_tail: track_chains.iter().map(Chain::tail).collect(),
            bus_latency: bus_chains.iter().map(Chain::latency).collect(),
            bus_tail: bus_chains.iter().map(Chain::tail).collect(),
        };
        let plan = Plan::new(session, &times)?;
        let mut grew = false;
        for (b, chain) in bus_chains.iter_mut().enumerate() {
            grew |= chain.align_keys(plan.bus_in_latency[b], &|k| track_latency[k]);
        }
        if !grew {
            break plan;
        }
    };

    // Song length: the longest placed stem, muted or not (muting does not shorten a song).
    let places: Vec<Vec<ClipPlan>> = session
        .tracks
        .par_iter()
        .enumerate()
        .map(|(i, t)| clip_plans(t, rate, plan.track_active[i]))
        .collect::<Result<_, _>>()?;
    let content_frames = places
        .iter()
        .flatten()
        .map(|p| p.placed.offset + p.placed.fades.len)
        .max()
        .unwrap_or(0);

    // Which rendered tracks key a sidechain anywhere (their blocks are kept for the keyed
    // processors; a key that does not render leaves its processor unkeyed).
    let mut keyed = vec![false; session.tracks.len()];
    for fx in all_chains(session) {
        for k in plan::sidechain_keys(fx) {
            keyed[k] = plan.track_active[k];
        }
    }

    // Place every track that must render.
    let tracks: Vec<Option<TrackState>> = session
        .tracks
        .par_iter()
        .zip(track_chains.into_par_iter())
        .zip(places.into_par_iter())
        .enumerate()
        .map(
            |(i, ((t, chain), clips))| -> Result<Option<TrackState>, RenderError> {
                if !plan.track_active[i] {
                    return Ok(None);
                }
                let src = TrackSource::new(clips, rate).map_err(|e| RenderError::Source {
                    track: t.name.clone(),
                    file: e.file,
                    source: e.source,
                })?;
                Ok(Some(TrackState {
                    idx: i,
                    name: t.name.clone(),
                    src,
                    chain,
                    polarity: if t.polarity_invert { -1.0 } else { 1.0 },
                    placement: Placement::new(t.pan, t.width, t.is_mono()),
                    fader: dsp::db_to_gain(t.gain_db),
                    envelopes: mix_envelopes(
                        &t.auto,
                        t.pan,
                        t.width,
                        t.stem.channels == 1,
                        plan.track_out_latency[i],
                        block,
                    ),
                    buf: [vec![0.0; block], vec![0.0; block]],
                    meter: BlockMeter::new(rate),
                }))
            },
        )
        .collect::<Result<_, _>>()?;
    let buses: Vec<BusState> = session
        .buses
        .iter()
        .zip(bus_chains)
        .enumerate()
        .map(|(i, (b, chain))| BusState {
            name: b.name.clone(),
            chain,
            placement: Placement::new(b.pan, b.width, false),
            fader: dsp::db_to_gain(b.gain_db),
            envelopes: mix_envelopes(
                &b.auto,
                b.pan,
                b.width,
                false,
                plan.bus_out_latency[i],
                block,
            ),
            input: [vec![0.0; block], vec![0.0; block]],
            meter: BlockMeter::new(rate),
            muted: b.muted,
        })
        .collect();
    let bus_delays = plan.into_bus.iter().map(|e| EdgeDelays::new(e)).collect();
    let master_delays = EdgeDelays::new(&plan.into_master);
    Ok(Graph {
        spec,
        tracks,
        buses,
        bus_delays,
        master_delays,
        keys: Keys::new(&keyed, block),
        track_latency,
        content_frames,
        resources,
        plan,
    })
}
