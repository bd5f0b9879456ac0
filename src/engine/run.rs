//! The block-major render loop.
//!
//! Per block: every active track streams its stem, runs its chain and pans, in parallel (rayon,
//! one buffer per track); then, serially and in a fixed order, inputs are summed into buses (in
//! dependency order) and into the mix bus, which goes to a [`MixSink`] (the master) while the
//! next block is rendered. No float sum ever crosses threads, so the same session file gives
//! the same bits on any thread count.

use rayon::prelude::*;

use crate::analysis::bs1770::{BATCH, IntegratedMeter};
use crate::dsp::GROUP;
use crate::dsp::delay_line::DelayLine;
use crate::dsp::envelope::Envelope;
use crate::dsp::gain_to_db;
use crate::session::model::Session;

use super::build::Graph;
use super::chain::{Chain, Keys};
use super::error::RenderError;
use super::meter::{BlockMeter, NodeStats, StemStats};
use super::plan::{Edge, Node};
use super::source::TrackSource;

/// Where the mix bus goes, block by block.
pub trait MixSink {
    /// Take the mix bus block `mix[..n]`, which starts at render frame `frame` (frames from the
    /// song's start plus the mix's latency). The sink may process it in place. `keys` holds the
    /// current block of every track that keys a sidechain.
    fn write(
        &mut self,
        mix: &mut [Vec<f32>; 2],
        n: usize,
        keys: &Keys,
        frame: u64,
    ) -> Result<(), RenderError>;
}

/// What was measured on the tracks and buses while rendering.
#[derive(Debug, Clone)]
pub struct MixStats {
    pub tracks: Vec<NodeStats>,
    pub stems: Vec<StemStats>,
    pub buses: Vec<NodeStats>,
}

/// Width then pan for one node: M/S width, then the pan law.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placement {
    width: f32,
    gain_l: f32,
    gain_r: f32,
}

impl Placement {
    /// Constant-power pan for a mono source (-3 dB each side at centre); balance for stereo.
    pub(super) fn new(pan: f64, width: f64, mono: bool) -> Self {
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

    pub(super) fn apply(&self, l: &mut [f32], r: &mut [f32]) {
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

/// Envelopes on a node's pan, width and fader, read at the node's output: `latency` frames
/// after the stems (the latency of its chain and of what feeds it), so a frame sees the value
/// at the song time of the stems it came from.
pub(super) struct MixEnvelopes {
    pub(super) pan: (f64, Option<Envelope>),
    pub(super) width: (f64, Option<Envelope>),
    pub(super) fader: Option<Envelope>,
    pub(super) mono: bool,
    pub(super) latency: usize,
    /// The post-fader block, for the meter, when the fader is automated.
    pub(super) post: [Vec<f32>; 2],
}

impl MixEnvelopes {
    /// Song time of frame `j` of the block that starts at render frame `frame`.
    fn time(&self, frame: u64, j: usize, rate: f64) -> f64 {
        (frame as i64 + j as i64 - self.latency as i64) as f64 / rate
    }

    fn placed(&self) -> bool {
        self.pan.1.is_some() || self.width.1.is_some()
    }

    /// Width then pan, frame by frame (the static [`Placement`] of each frame's values), or
    /// once for the block when neither moves during it.
    fn place(&self, l: &mut [f32], r: &mut [f32], frame: u64, rate: f64) {
        let at = |p: &(f64, Option<Envelope>), t| p.1.as_ref().map_or(p.0, |e| e.value_at(t));
        let (t0, t1) = (self.time(frame, 0, rate), self.time(frame, l.len(), rate));
        let still = |p: &(f64, Option<Envelope>)| {
            p.1.as_ref()
                .is_none_or(|e| e.constant_over(t0, t1).is_some())
        };
        if still(&self.pan) && still(&self.width) {
            Placement::new(at(&self.pan, t0), at(&self.width, t0), self.mono).apply(l, r);
            return;
        }
        for (j, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
            let t = self.time(frame, j, rate);
            let p = Placement::new(at(&self.pan, t), at(&self.width, t), self.mono);
            p.apply(std::slice::from_mut(a), std::slice::from_mut(b));
        }
    }

    /// Fill `post` with the block as it leaves through the automated fader; false (and `post`
    /// untouched) when the fader is not automated and the block itself is what leaves.
    fn post_fader(&mut self, block: [&[f32]; 2], frame: u64, rate: f64) -> bool {
        let n = block[0].len();
        let Some(fader) = &self.fader else {
            return false;
        };
        // One gain for the block when the fader does not move during it.
        let (t0, t1) = (self.time(frame, 0, rate), self.time(frame, n, rate));
        let still = fader
            .constant_over(t0, t1)
            .map(|db| crate::dsp::db_to_gain(db) as f32);
        let [pl, pr] = &mut self.post;
        let frames = pl[..n]
            .iter_mut()
            .zip(&mut pr[..n])
            .zip(block[0].iter().zip(block[1]));
        for (j, ((ol, or), (l, r))) in frames.enumerate() {
            let t = (frame as i64 + j as i64 - self.latency as i64) as f64 / rate;
            let g = still.unwrap_or_else(|| crate::dsp::db_to_gain(fader.value_at(t)) as f32);
            *ol = g * l;
            *or = g * r;
        }
        true
    }

    /// Meter the block as it leaves through the automated fader.
    fn meter(&mut self, meter: &mut BlockMeter, block: [&[f32]; 2], frame: u64, rate: f64) {
        let n = block[0].len();
        if self.post_fader(block, frame, rate) {
            meter.add(&[&self.post[0][..n], &self.post[1][..n]]);
        } else {
            meter.add(&block);
        }
    }
}

/// Place a node's block (static or automated).
fn place(
    placement: &Placement,
    env: &Option<MixEnvelopes>,
    buf: &mut [Vec<f32>; 2],
    n: usize,
    frame: u64,
    rate: f64,
) {
    let [l, r] = buf;
    match env {
        Some(e) if e.placed() => e.place(&mut l[..n], &mut r[..n], frame, rate),
        _ => placement.apply(&mut l[..n], &mut r[..n]),
    }
}

/// The block a track's meter reads: its output after an automated fader (which
/// [`MixEnvelopes::post_fader`] has filled in), else before its static fader.
fn metered<'a>(env: &'a Option<MixEnvelopes>, buf: &'a [Vec<f32>; 2], n: usize) -> [&'a [f32]; 2] {
    match env {
        Some(e) if e.fader.is_some() => [&e.post[0][..n], &e.post[1][..n]],
        _ => [&buf[0][..n], &buf[1][..n]],
    }
}

pub(super) struct TrackState {
    pub(super) idx: usize,
    pub(super) name: String,
    pub(super) src: TrackSource,
    pub(super) chain: Chain,
    pub(super) polarity: f32,
    pub(super) placement: Placement,
    pub(super) fader: f64,
    /// Envelopes on pan, width or the fader, if any.
    pub(super) envelopes: Option<MixEnvelopes>,
    /// Post-fx, post-pan, pre-fader signal: every edge from this track is a gain of it.
    pub(super) buf: [Vec<f32>; 2],
    pub(super) meter: BlockMeter,
}

impl TrackState {
    /// The next `n` frames of the track's stems into its buffer (polarity applied).
    fn read(&mut self, n: usize) -> Result<(), RenderError> {
        let [l, r] = &mut self.buf;
        let mut out = [&mut l[..n], &mut r[..n]];
        self.src.read(&mut out).map_err(|e| RenderError::Source {
            track: self.name.clone(),
            file: e.file,
            source: e.source,
        })?;
        if self.polarity < 0.0 {
            for ch in out.iter_mut() {
                ch.iter_mut().for_each(|x| *x = -*x);
            }
        }
        Ok(())
    }

    /// After the chain: pan and width, the post-fader envelopes, the sample peak.
    fn place(&mut self, n: usize, frame: u64, rate: u32) {
        let rate = f64::from(rate);
        place(
            &self.placement,
            &self.envelopes,
            &mut self.buf,
            n,
            frame,
            rate,
        );
        // The sample peak here, the loudness for several tracks at once afterwards
        // ([`meter_tracks`]).
        if let Some(e) = &mut self.envelopes {
            let [l, r] = &self.buf;
            e.post_fader([&l[..n], &r[..n]], frame, rate);
        }
        let block = metered(&self.envelopes, &self.buf, n);
        self.meter.add_peak(&block);
    }

    /// The next block of every track of `group`: each reads its stems, the chains run side
    /// by side ([`Chain::run_group`]), each is placed.
    fn process_group(
        group: &mut [TrackState],
        n: usize,
        frame: u64,
        rate: u32,
        keys: &Keys,
    ) -> Result<(), RenderError> {
        for t in group.iter_mut() {
            t.read(n)?;
        }
        let (mut chains, mut bufs): (Vec<&mut Chain>, Vec<&mut [Vec<f32>; 2]>) =
            group.iter_mut().map(|t| (&mut t.chain, &mut t.buf)).unzip();
        Chain::run_group(&mut chains, &mut bufs, n, keys, frame, rate)?;
        for t in group.iter_mut() {
            t.place(n, frame, rate);
        }
        Ok(())
    }

    /// The fader the meter's figures still need (1 when the meter saw the automated fader).
    fn metered_fader(&self) -> f64 {
        match &self.envelopes {
            Some(e) if e.fader.is_some() => 1.0,
            _ => self.fader,
        }
    }

    /// Decode what is left of the track's files after the song (see [`TrackSource::finish`]).
    fn finish(&mut self) -> Result<(), RenderError> {
        self.src.finish().map_err(|e| RenderError::Source {
            track: self.name.clone(),
            file: e.file,
            source: e.source,
        })
    }
}

pub(super) struct BusState {
    pub(super) name: String,
    pub(super) chain: Chain,
    pub(super) placement: Placement,
    pub(super) fader: f64,
    /// Envelopes on pan, width or the fader, if any.
    pub(super) envelopes: Option<MixEnvelopes>,
    pub(super) input: [Vec<f32>; 2],
    pub(super) meter: BlockMeter,
    pub(super) muted: bool,
}

/// Latency compensation for the edges into one bus or the master, only where a delay is
/// needed. The edges that open the sum with one common delay (the tracks ahead of a reverb
/// return waiting for its latency, typically) are summed first and delayed once, so they share
/// one delay line instead of holding one each; every other delayed edge has its own.
pub(super) struct EdgeDelays {
    runs: Vec<(std::ops::Range<usize>, Option<DelayLine>)>,
}

impl EdgeDelays {
    pub(super) fn new(edges: &[Edge]) -> Self {
        let line = |d: usize| (d > 0).then(|| DelayLine::new(2, d));
        let first = edges.first().map_or(0, |e| e.delay);
        let shared = edges.iter().take_while(|e| e.delay == first).count();
        let mut runs = vec![(0..shared, line(first))];
        runs.extend((shared..edges.len()).map(|i| (i..i + 1, line(edges[i].delay))));
        EdgeDelays { runs }
    }
}

/// Where a sum happens: the block's render frame, the latency of the signals arriving (after
/// compensation), the rate, and room for an automated edge's gains.
struct SumAt<'g> {
    frame: u64,
    arrive: usize,
    rate: f64,
    gains: &'g mut [f32],
}

/// `dst = Σ gain * delayed(src)` over the edges, in order. A delayed run is summed from zero
/// and then delayed; a delay only moves samples, and the one run of several edges opens the sum
/// (see [`EdgeDelays`]), so every sample is added in the same order as when each edge is
/// delayed on its own: the same result to the bit. An automated edge's gain is applied before
/// its delay, so it is read `delay` frames later in the song than the arriving signal.
fn sum_edges<'s>(
    dst: &mut [Vec<f32>; 2],
    n: usize,
    edges: &[Edge],
    delays: &mut EdgeDelays,
    scratch: &mut [Vec<f32>; 2],
    at: SumAt<'_>,
    source: &dyn Fn(Node) -> [&'s [f32]; 2],
) {
    dst[0][..n].fill(0.0);
    dst[1][..n].fill(0.0);
    let gains = &mut at.gains[..n];
    let mut add = |to: &mut [Vec<f32>; 2], e: &Edge| {
        let src = source(e.from);
        if let Some(auto) = &e.auto {
            let start = at.frame as i64 - at.arrive as i64 + e.delay as i64;
            auto.fill(start, at.rate, gains);
            for ((d, s), g) in to[0][..n].iter_mut().zip(&src[0][..n]).zip(gains.iter()) {
                *d += *g * *s;
            }
            for ((d, s), g) in to[1][..n].iter_mut().zip(&src[1][..n]).zip(gains.iter()) {
                *d += *g * *s;
            }
            return;
        }
        let g = e.gain;
        for (d, s) in to[0][..n].iter_mut().zip(&src[0][..n]) {
            *d += g * *s;
        }
        for (d, s) in to[1][..n].iter_mut().zip(&src[1][..n]) {
            *d += g * *s;
        }
    };
    for (run, line) in &mut delays.runs {
        match line {
            None => {
                for e in &edges[run.clone()] {
                    add(dst, e);
                }
            }
            Some(d) => {
                scratch[0][..n].fill(0.0);
                scratch[1][..n].fill(0.0);
                for e in &edges[run.clone()] {
                    add(scratch, e);
                }
                let [sl, sr] = scratch;
                d.process(&mut [&mut sl[..n], &mut sr[..n]]);
                for (d, s) in dst[0][..n].iter_mut().zip(&scratch[0][..n]) {
                    *d += *s;
                }
                for (d, s) in dst[1][..n].iter_mut().zip(&scratch[1][..n]) {
                    *d += *s;
                }
            }
        }
    }
}

/// Tracks one thread renders side by side ([`TrackState::process_group`]): up to
/// [`GROUP`] (the lanes of the batched processors), and few enough that every thread of the
/// pool has at least two groups to balance between them.
fn group_size(tracks: usize) -> usize {
    (tracks / (2 * rayon::current_num_threads())).clamp(1, GROUP)
}

/// The tracks' loudness meters for the block just rendered, [`BATCH`] tracks to a pass
/// ([`IntegratedMeter::add_batch`]: the same bits as one meter at a time), the passes in
/// parallel.
fn meter_tracks(tracks: &mut [Option<TrackState>], n: usize) {
    let mut active: Vec<&mut TrackState> = tracks.iter_mut().flatten().collect();
    // As few passes as BATCH allows, as even as can be (9 tracks: 5 and 4, not 8 and 1).
    let passes = active.len().div_ceil(BATCH).max(1);
    let size = active.len().div_ceil(passes).max(1);
    active.par_chunks_mut(size).for_each(|group| {
        let mut meters = Vec::with_capacity(BATCH);
        let mut blocks = Vec::with_capacity(BATCH);
        for t in group.iter_mut() {
            let t: &mut TrackState = t;
            blocks.push(metered(&t.envelopes, &t.buf, n));
            meters.push(t.meter.loudness_mut());
        }
        IntegratedMeter::add_batch(&mut meters, &blocks);
    });
}

impl Graph {
    /// Render `frames` frames of the mix bus into `sink`, block by block, on the current rayon
    /// pool; returns what was measured on the tracks and buses.
    pub fn run(
        mut self,
        session: &Session,
        frames: u64,
        sink: &mut (dyn MixSink + Send),
    ) -> Result<MixStats, RenderError> {
        let rate = session.sample_rate;
        let block = self.spec.max_block;
        let mut scratch = [vec![0.0; block], vec![0.0; block]];
        let mut mix = [vec![0.0; block], vec![0.0; block]];
        let mut gains = vec![0.0f32; block];
        let frate = f64::from(rate);
        let Graph {
            plan,
            tracks,
            buses,
            bus_delays,
            master_delays,
            keys,
            ..
        } = &mut self;
        // The sink takes block k while block k + 1 is rendered (rayon::join): the master chain
        // is serial work, and overlapping it with the tracks keeps every core busy. The two
        // halves share nothing: each block has its own mix buffers and its own copy of the
        // sidechain keys, so the bits do not depend on how the halves are scheduled.
        let mut keys_next = keys.clone();
        let mut mix_next = [vec![0.0; block], vec![0.0; block]];
        let mut produce = |frame: u64,
                           n: usize,
                           mix: &mut [Vec<f32>; 2],
                           keys: &mut Keys|
         -> Result<(), RenderError> {
            for group in &plan.track_groups {
                let mut work: Vec<TrackState> =
                    group.iter().filter_map(|&i| tracks[i].take()).collect();
                let k: &Keys = keys;
                let size = group_size(work.len());
                work.par_chunks_mut(size)
                    .try_for_each(|g| TrackState::process_group(g, n, frame, rate, k))?;
                for t in work {
                    let i = t.idx;
                    keys.store(i, &t.buf, n);
                    tracks[i] = Some(t);
                }
            }
            meter_tracks(tracks, n);
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
                let at = SumAt {
                    frame,
                    arrive: plan.bus_in_latency[b],
                    rate: frate,
                    gains: &mut gains,
                };
                sum_edges(
                    &mut bus.input,
                    n,
                    &plan.into_bus[b],
                    &mut bus_delays[b],
                    &mut scratch,
                    at,
                    &source,
                );
                if bus.muted {
                    continue;
                }
                bus.chain.run(&mut bus.input, n, keys, frame, rate)?;
                place(
                    &bus.placement,
                    &bus.envelopes,
                    &mut bus.input,
                    n,
                    frame,
                    frate,
                );
            }
            buses.par_iter_mut().filter(|b| !b.muted).for_each(|b| {
                let [l, r] = &b.input;
                match &mut b.envelopes {
                    Some(e) => e.meter(&mut b.meter, [&l[..n], &r[..n]], frame, frate),
                    None => b.meter.add(&[&l[..n], &r[..n]]),
                }
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
            let at = SumAt {
                frame,
                arrive: plan.mix_latency,
                rate: frate,
                gains: &mut gains,
            };
            sum_edges(
                mix,
                n,
                &plan.into_master,
                master_delays,
                &mut scratch,
                at,
                &source,
            );
            Ok(())
        };
        let block_at = |frame: u64| block.min((frames - frame) as usize);
        if frames > 0 {
            produce(0, block_at(0), &mut mix, keys)?;
            let (mut frame, mut n) = (0u64, block_at(0));
            loop {
                let next = frame + n as u64;
                if next >= frames {
                    sink.write(&mut mix, n, keys, frame)?;
                    break;
                }
                let m = block_at(next);
                let (written, produced) = rayon::join(
                    || sink.write(&mut mix, n, keys, frame),
                    || produce(next, m, &mut mix_next, &mut keys_next),
                );
                written?;
                produced?;
                std::mem::swap(&mut mix, &mut mix_next);
                std::mem::swap(keys, &mut keys_next);
                (frame, n) = (next, m);
            }
        }
        // Every stem is decoded to its end, as `check` decodes it: a damaged packet after the
        // last frame the song needed fails the render too.
        tracks
            .par_iter_mut()
            .flatten()
            .try_for_each(TrackState::finish)?;
        Ok(self.stats(session))
    }

    fn stats(&self, session: &Session) -> MixStats {
        let mut tracks = Vec::new();
        let mut stems = Vec::new();
        for (i, t) in session.tracks.iter().enumerate() {
            let st = self.tracks[i].as_ref();
            tracks.push(match st {
                Some(st) if !t.muted => st.meter.stats(&t.name, st.metered_fader(), false),
                _ => NodeStats {
                    name: t.name.clone(),
                    peak_dbfs: f64::NEG_INFINITY,
                    integrated_lufs: None,
                    muted: true,
                },
            });
            stems.push(match st {
                Some(st) => StemStats {
                    source_peak_dbfs: Some(gain_to_db(f64::from(st.src.source_peak))),
                    source_clipped: st.src.source_clipped,
                },
                None => StemStats {
                    source_peak_dbfs: None,
                    source_clipped: 0,
                },
            });
        }
        let buses = self
            .buses
            .iter()
            .map(|b| {
                let fader = match &b.envelopes {
                    Some(e) if e.fader.is_some() => 1.0,
                    _ => b.fader,
                };
                b.meter.stats(&b.name, fader, b.muted)
            })
            .collect();
        MixStats {
            tracks,
            stems,
            buses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::white;

    /// Summing the edges through shared and single delay lines gives, to the bit, what delaying
    /// every edge on its own and adding them in order gives, across blocks of any size.
    #[test]
    fn shared_delays_sum_exactly_like_one_delay_per_edge() {
        let delays = [300, 300, 300, 0, 300, 300, 5000, 0];
        let edges: Vec<Edge> = delays
            .iter()
            .enumerate()
            .map(|(i, &delay)| Edge {
                from: Node::Track(i),
                gain: 0.3 + 0.1 * i as f32,
                delay,
                auto: None,
            })
            .collect();
        let n = 9000;
        let src: Vec<[Vec<f32>; 2]> = (0..edges.len() as u64)
            .map(|i| [white(n, 2 * i + 1, 0.5), white(n, 2 * i + 2, 0.5)])
            .collect();
        // One delay line per edge, summed in order.
        let mut want = [vec![0.0f32; n], vec![0.0f32; n]];
        for (e, s) in edges.iter().zip(&src) {
            for c in 0..2 {
                for t in e.delay..n {
                    want[c][t] += e.gain * s[c][t - e.delay];
                }
            }
        }
        for block in [1usize, 700, 4096] {
            let mut d = EdgeDelays::new(&edges);
            // The three edges that open the sum share one line; the others have their own.
            assert_eq!(d.runs.len(), 6);
            let mut got = [Vec::new(), Vec::new()];
            let mut dst = [vec![0.0; block], vec![0.0; block]];
            let mut scratch = [vec![0.0; block], vec![0.0; block]];
            let mut gains = vec![0.0; block];
            let mut start = 0;
            while start < n {
                let m = block.min(n - start);
                let source = |node: Node| -> [&[f32]; 2] {
                    let Node::Track(i) = node else { unreachable!() };
                    [&src[i][0][start..start + m], &src[i][1][start..start + m]]
                };
                let at = SumAt {
                    frame: start as u64,
                    arrive: 0,
                    rate: 48000.0,
                    gains: &mut gains,
                };
                sum_edges(&mut dst, m, &edges, &mut d, &mut scratch, at, &source);
                got[0].extend_from_slice(&dst[0][..m]);
                got[1].extend_from_slice(&dst[1][..m]);
                start += m;
            }
            for c in 0..2 {
                let same = got[c]
                    .iter()
                    .zip(&want[c])
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "block {block}, channel {c}");
            }
        }
    }
}
