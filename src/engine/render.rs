//! The block-major render loop.
//!
//! Per block: every active track streams its stem, runs its chain and pans, in parallel (rayon,
//! one buffer per track); then, serially and in a fixed order, inputs are summed into buses (in
//! dependency order) and into the master. No float sum ever crosses threads, so the same session
//! gives the same bits on any thread count.

use indicatif::ProgressBar;
use rayon::prelude::*;

use std::sync::Arc;

use crate::analysis::loudness::{Levels, Meter, MeterError};
use crate::dsp::config::{FxConfig, ReverbKind};
use crate::dsp::delay_line::DelayLine;
use crate::dsp::{self, ProcessSpec, Resources};
use crate::session::model::{Session, Tail};

use super::chain::Chain;
use super::meter::BlockMeter;
use super::plan::{self, Edge, Node, NodeTimes, Plan};
use super::source::{SourceError, StemSource};

/// Frames per block.
pub const BLOCK: usize = 4096;

/// Hard cap on an automatic tail.
pub const MAX_AUTO_TAIL_S: f64 = 30.0;

/// Level below which an automatic tail counts as silent: -90 dBFS.
pub const TAIL_FLOOR: f32 = 3.162_277_7e-5;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("track \"{track}\" ({file}): {source}")]
    Source {
        track: String,
        file: String,
        source: SourceError,
    },
    #[error(
        "{path} ({processor}) produced a non-finite sample (NaN or infinity) at {time_s:.3} s; the processor blew up"
    )]
    NonFinite {
        path: String,
        processor: &'static str,
        time_s: f64,
    },
    #[error("{path}: {source}")]
    Build {
        path: String,
        source: dsp::NotImplemented,
    },
    #[error(transparent)]
    Plan(#[from] super::plan::PlanError),
    #[error("{path}: impulse response {file}: {source}")]
    ImpulseResponse {
        path: String,
        file: String,
        source: SourceError,
    },
    #[error(transparent)]
    Meter(#[from] MeterError),
}

/// Levels measured on one track or bus while rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStats {
    pub name: String,
    /// Sample peak of the node's output (after its fader), dBFS.
    pub peak_dbfs: f64,
    /// Integrated loudness of the node's output (after its fader), LUFS; None when silent.
    pub integrated_lufs: Option<f64>,
    pub muted: bool,
}

/// Per-track extras: what the source stem held.
#[derive(Debug, Clone, PartialEq)]
pub struct StemStats {
    /// None when the stem was not decoded (a muted track).
    pub source_peak_dbfs: Option<f64>,
    pub source_clipped: u64,
}

/// The rendered master and what was measured on the way.
#[derive(Debug, Clone)]
pub struct Mix {
    /// Left and right after the master fx chain, at the session rate, latency removed.
    pub planes: Vec<Vec<f32>>,
    /// Levels of the mix bus as it enters the master fx chain.
    pub mix_levels: Levels,
    pub sample_rate: u32,
    /// Frames up to the end of the last stem (the rest is tail).
    pub content_frames: u64,
    pub tracks: Vec<NodeStats>,
    pub stems: Vec<StemStats>,
    pub buses: Vec<NodeStats>,
}

/// Width then pan for one node: M/S width, then the pan law.
#[derive(Debug, Clone, Copy)]
struct Placement {
    width: f32,
    gain_l: f32,
    gain_r: f32,
}

impl Placement {
    /// Constant-power pan for a mono source (-3 dB each side at centre); balance for stereo.
    fn new(pan: f64, width: f64, mono: bool) -> Self {
        use std::f64::consts::FRAC_PI_2;
        let (gl, gr) = if mono {
            let theta = (pan + 1.0) * FRAC_PI_2 / 2.0;
            (theta.cos(), theta.sin())
        } else {
            // Balance: centre leaves both sides untouched; panning turns the far side down
            // along a quarter cosine (-3 dB at half way, silent at the end).
            (
                (pan.max(0.0) * FRAC_PI_2).cos(),
                ((-pan).max(0.0) * FRAC_PI_2).cos(),
            )
        };
        Placement {
            width: width as f32,
            gain_l: gl as f32,
            gain_r: gr as f32,
        }
    }

    fn apply(&self, l: &mut [f32], r: &mut [f32]) {
        if self.width != 1.0 {
            for (a, b) in l.iter_mut().zip(r.iter_mut()) {
                let m = 0.5 * (*a + *b);
                let s = 0.5 * (*a - *b) * self.width;
                *a = m + s;
                *b = m - s;
            }
        }
        if self.gain_l != 1.0 {
            l.iter_mut().for_each(|x| *x *= self.gain_l);
        }
        if self.gain_r != 1.0 {
            r.iter_mut().for_each(|x| *x *= self.gain_r);
        }
    }
}

struct TrackState {
    idx: usize,
    name: String,
    file: String,
    src: StemSource,
    chain: Chain,
    polarity: f32,
    placement: Placement,
    fader: f64,
    /// Post-fx, post-pan, pre-fader signal: every edge from this track is a gain of it.
    buf: [Vec<f32>; 2],
    meter: BlockMeter,
}

impl TrackState {
    fn process(
        &mut self,
        n: usize,
        frame: u64,
        rate: u32,
        others: &[Option<TrackState>],
    ) -> Result<(), RenderError> {
        let [l, r] = &mut self.buf;
        let mut out = [&mut l[..n], &mut r[..n]];
        self.src
            .read(&mut out)
            .map_err(|source| RenderError::Source {
                track: self.name.clone(),
                file: self.file.clone(),
                source,
            })?;
        if self.polarity < 0.0 {
            for ch in out.iter_mut() {
                ch.iter_mut().for_each(|x| *x = -*x);
            }
        }
        let keys = |k: usize| {
            others
                .get(k)
                .and_then(Option::as_ref)
                .map(|t| [&t.buf[0][..], &t.buf[1][..]])
        };
        self.chain.run(&mut self.buf, n, &keys, frame, rate)?;
        let [l, r] = &mut self.buf;
        self.placement.apply(&mut l[..n], &mut r[..n]);
        self.meter.add(&[&l[..n], &r[..n]]);
        Ok(())
    }
}

struct BusState {
    name: String,
    chain: Chain,
    placement: Placement,
    fader: f64,
    input: [Vec<f32>; 2],
    meter: BlockMeter,
    muted: bool,
}

/// Per-edge latency compensation, allocated only where a delay is needed.
struct EdgeDelays {
    lines: Vec<Option<DelayLine>>,
}

impl EdgeDelays {
    fn new(edges: &[Edge]) -> Self {
        EdgeDelays {
            lines: edges
                .iter()
                .map(|e| (e.delay > 0).then(|| DelayLine::new(2, e.delay)))
                .collect(),
        }
    }
}

/// `dst += gain * delayed(src)` for every edge, in order.
fn sum_edges<'s>(
    dst: &mut [Vec<f32>; 2],
    n: usize,
    edges: &[Edge],
    delays: &mut EdgeDelays,
    scratch: &mut [Vec<f32>; 2],
    source: &dyn Fn(Node) -> [&'s [f32]; 2],
) {
    dst[0][..n].fill(0.0);
    dst[1][..n].fill(0.0);
    for (e, line) in edges.iter().zip(&mut delays.lines) {
        let src = source(e.from);
        let (l, r): (&[f32], &[f32]) = match line {
            Some(d) => {
                scratch[0][..n].copy_from_slice(&src[0][..n]);
                scratch[1][..n].copy_from_slice(&src[1][..n]);
                let [sl, sr] = scratch;
                d.process(&mut [&mut sl[..n], &mut sr[..n]]);
                (&scratch[0][..n], &scratch[1][..n])
            }
            None => (&src[0][..n], &src[1][..n]),
        };
        let g = e.gain;
        for (d, s) in dst[0][..n].iter_mut().zip(l) {
            *d += g * *s;
        }
        for (d, s) in dst[1][..n].iter_mut().zip(r) {
            *d += g * *s;
        }
    }
}

/// Length in session frames of a stem placed at its offset, from the header where possible.
fn placed_len(track: &crate::session::model::Track, rate: u32) -> Result<u64, SourceError> {
    let frames = match track.stem.frames {
        Some(f) => f,
        None => crate::io::decode::scan(&track.file)?.frames,
    };
    let resampled = (frames * u64::from(rate)).div_ceil(u64::from(track.stem.sample_rate));
    Ok(offset_frames(track.offset_s, rate) + resampled)
}

fn offset_frames(offset_s: f64, rate: u32) -> u64 {
    (offset_s * f64::from(rate)).round() as u64
}

/// Decode and resample every impulse response the session's reverbs name.
fn load_resources(session: &Session, rate: u32) -> Result<Resources, RenderError> {
    let mut wanted: Vec<(String, std::path::PathBuf)> = Vec::new();
    let chains = session
        .tracks
        .iter()
        .map(|t| &t.fx)
        .chain(session.buses.iter().map(|b| &b.fx))
        .chain(std::iter::once(&session.master.fx));
    for fx in chains {
        for f in fx {
            if let FxConfig::Reverb(r) = &f.config
                && let ReverbKind::Convolution { ir } = &r.kind
                && !wanted.iter().any(|(_, p)| p == ir)
            {
                wanted.push((f.path.clone(), ir.clone()));
            }
        }
    }
    let loaded: Vec<(std::path::PathBuf, Arc<Vec<Vec<f32>>>)> = wanted
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

/// Render the master of a session: tracks, buses, the mix bus and the master fx chain.
/// Runs on the current rayon pool.
pub fn render(session: &Session, progress: &ProgressBar) -> Result<Mix, RenderError> {
    let rate = session.sample_rate;
    let spec = ProcessSpec {
        sample_rate: f64::from(rate),
        max_block: BLOCK,
        channels: 2,
    };
    let res = load_resources(session, rate)?;
    let build_all = |fx: &[crate::session::model::Fx]| Chain::build(fx, &spec, &res);
    let mut track_chains: Vec<Chain> = session
        .tracks
        .iter()
        .map(|t| build_all(&t.fx))
        .collect::<Result<_, _>>()?;
    let mut bus_chains: Vec<Chain> = session
        .buses
        .iter()
        .map(|b| build_all(&b.fx))
        .collect::<Result<_, _>>()?;
    let mut master_chain = build_all(&session.master.fx)?;

    // Sidechain keys of tracks: keys render in earlier groups, so align group by group.
    let mut track_lat: Vec<usize> = track_chains.iter().map(Chain::latency).collect();
    for group in plan::track_levels(session) {
        for t in group {
            let lat = track_lat.clone();
            track_chains[t].align_keys(0, &|k| lat[k]);
            track_lat[t] = track_chains[t].latency();
        }
    }
    // Buses and the master depend on the routing plan, which depends on their latency: align
    // until no program delay grows (they only grow, so this ends).
    let plan = loop {
        let times = NodeTimes {
            track_latency: track_lat.clone(),
            track_tail: track_chains.iter().map(Chain::tail).collect(),
            bus_latency: bus_chains.iter().map(Chain::latency).collect(),
            bus_tail: bus_chains.iter().map(Chain::tail).collect(),
        };
        let plan = Plan::new(session, &times)?;
        let mut grew = false;
        for (b, chain) in bus_chains.iter_mut().enumerate() {
            grew |= chain.align_keys(plan.bus_in_latency[b], &|k| track_lat[k]);
        }
        grew |= master_chain.align_keys(plan.mix_latency, &|k| track_lat[k]);
        if !grew {
            break plan;
        }
    };

    // Song length: the longest placed stem, muted or not (muting does not shorten a song).
    let lens: Vec<u64> = session
        .tracks
        .par_iter()
        .map(|t| {
            placed_len(t, rate).map_err(|source| RenderError::Source {
                track: t.name.clone(),
                file: t.file_display.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    let content_frames = lens.iter().copied().max().unwrap_or(0);
    let ringing = (plan.tail + master_chain.tail()) as u64;
    let tail_frames = match session.tail {
        Tail::Seconds(s) => (s * f64::from(rate)).round() as u64,
        Tail::Auto => ringing.min((MAX_AUTO_TAIL_S * f64::from(rate)) as u64),
    };
    let total = content_frames + tail_frames;
    progress.set_length(total);

    // Open every track that must render.
    let opened: Vec<Option<TrackState>> = session
        .tracks
        .par_iter()
        .zip(track_chains.into_par_iter())
        .enumerate()
        .map(
            |(i, (t, chain))| -> Result<Option<TrackState>, RenderError> {
                if !plan.track_active[i] {
                    return Ok(None);
                }
                let src = StemSource::open(&t.file, rate, offset_frames(t.offset_s, rate))
                    .map_err(|source| RenderError::Source {
                        track: t.name.clone(),
                        file: t.file_display.clone(),
                        source,
                    })?;
                Ok(Some(TrackState {
                    idx: i,
                    name: t.name.clone(),
                    file: t.file_display.clone(),
                    src,
                    chain,
                    polarity: if t.polarity_invert { -1.0 } else { 1.0 },
                    placement: Placement::new(t.pan, t.width, t.stem.channels == 1),
                    fader: dsp::db_to_gain(t.gain_db),
                    buf: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
                    meter: BlockMeter::new(rate),
                }))
            },
        )
        .collect::<Result<_, _>>()?;
    let mut tracks = opened;
    let mut buses: Vec<BusState> = session
        .buses
        .iter()
        .zip(bus_chains)
        .map(|(b, chain)| BusState {
            name: b.name.clone(),
            chain,
            placement: Placement::new(b.pan, b.width, false),
            fader: dsp::db_to_gain(b.gain_db),
            input: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
            meter: BlockMeter::new(rate),
            muted: b.muted,
        })
        .collect();
    let mut bus_delays: Vec<EdgeDelays> =
        plan.into_bus.iter().map(|e| EdgeDelays::new(e)).collect();
    let mut master_delays = EdgeDelays::new(&plan.into_master);
    let mut scratch = [vec![0.0; BLOCK], vec![0.0; BLOCK]];
    let mut master = [vec![0.0; BLOCK], vec![0.0; BLOCK]];
    let mut mix_meter = Meter::new(2, rate)?;

    let latency = (plan.mix_latency + master_chain.latency()) as u64;
    let needed = total + latency;
    let mut out: Vec<Vec<f32>> = (0..2).map(|_| Vec::with_capacity(total as usize)).collect();
    let mut frame: u64 = 0;
    while frame < needed {
        let n = BLOCK.min((needed - frame) as usize);
        for group in &plan.track_groups {
            let mut work: Vec<TrackState> =
                group.iter().filter_map(|&i| tracks[i].take()).collect();
            let others = &tracks;
            work.par_iter_mut()
                .try_for_each(|t| t.process(n, frame, rate, others))?;
            for t in work {
                let i = t.idx;
                tracks[i] = Some(t);
            }
        }
        let key_of = |k: usize| {
            tracks
                .get(k)
                .and_then(Option::as_ref)
                .map(|t| [&t.buf[0][..], &t.buf[1][..]])
        };
        for &b in &plan.bus_order {
            let (before, rest) = buses.split_at_mut(b);
            let (bus, after) = rest.split_first_mut().expect("bus index in range");
            let source = |node: Node| -> [&[f32]; 2] {
                match node {
                    Node::Track(i) => match &tracks[i] {
                        Some(t) => [&t.buf[0][..], &t.buf[1][..]],
                        None => [&[][..], &[][..]],
                    },
                    Node::Bus(j) if j < b => [&before[j].input[0][..], &before[j].input[1][..]],
                    Node::Bus(j) => [
                        &after[j - b - 1].input[0][..],
                        &after[j - b - 1].input[1][..],
                    ],
                }
            };
            sum_edges(
                &mut bus.input,
                n,
                &plan.into_bus[b],
                &mut bus_delays[b],
                &mut scratch,
                &source,
            );
            if bus.muted {
                continue;
            }
            bus.chain.run(&mut bus.input, n, &key_of, frame, rate)?;
            let [l, r] = &mut bus.input;
            bus.placement.apply(&mut l[..n], &mut r[..n]);
        }
        buses.par_iter_mut().filter(|b| !b.muted).for_each(|b| {
            let [l, r] = &b.input;
            b.meter.add(&[&l[..n], &r[..n]]);
        });
        let source = |node: Node| -> [&[f32]; 2] {
            match node {
                Node::Track(i) => match &tracks[i] {
                    Some(t) => [&t.buf[0][..], &t.buf[1][..]],
                    None => [&[][..], &[][..]],
                },
                Node::Bus(j) => [&buses[j].input[0][..], &buses[j].input[1][..]],
            }
        };
        sum_edges(
            &mut master,
            n,
            &plan.into_master,
            &mut master_delays,
            &mut scratch,
            &source,
        );
        mix_meter.add(&[&master[0][..n], &master[1][..n]])?;
        master_chain.run(&mut master, n, &key_of, frame, rate)?;
        // Drop the first `latency` frames: the master starts when its latest path starts.
        let skip = latency.saturating_sub(frame).min(n as u64) as usize;
        out[0].extend_from_slice(&master[0][skip..n]);
        out[1].extend_from_slice(&master[1][skip..n]);
        frame += n as u64;
        progress.inc((n - skip) as u64);
    }

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

    let mut track_stats = Vec::new();
    let mut stem_stats = Vec::new();
    for (i, t) in session.tracks.iter().enumerate() {
        let st = tracks[i].as_ref();
        track_stats.push(match st {
            Some(st) if !t.muted => st.meter.stats(&t.name, st.fader, false),
            _ => NodeStats {
                name: t.name.clone(),
                peak_dbfs: f64::NEG_INFINITY,
                integrated_lufs: None,
                muted: true,
            },
        });
        stem_stats.push(match st {
            Some(st) => StemStats {
                source_peak_dbfs: Some(dsp::gain_to_db(f64::from(st.src.source_peak))),
                source_clipped: st.src.source_clipped,
            },
            None => StemStats {
                source_peak_dbfs: None,
                source_clipped: 0,
            },
        });
    }
    let bus_stats = buses
        .iter()
        .map(|b| b.meter.stats(&b.name, b.fader, b.muted))
        .collect();
    progress.finish_and_clear();
    Ok(Mix {
        planes: out,
        mix_levels: mix_meter.levels(),
        sample_rate: rate,
        content_frames,
        tracks: track_stats,
        stems: stem_stats,
        buses: bus_stats,
    })
}
