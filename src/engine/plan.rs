//! The render graph: tracks feed buses and the master, buses feed buses and the master. The plan
//! fixes the bus processing order (topological), the order of every sum (session order, so a
//! render is reproducible to the bit), each connection's gain, and the delay each connection needs
//! so that every signal arriving at a bus is sample-aligned whatever latency its path has.

use crate::dsp::config::FxConfig;
use crate::dsp::db_to_gain;
use crate::dsp::envelope::Envelope;
use crate::session::graph;
use crate::session::model::{Dest, MixAutomation, Send, Session};

/// A signal source in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Track(usize),
    Bus(usize),
}

/// One connection into a bus or the master: `gain * delayed(source)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: Node,
    /// Linear gain: fader, send level, or both.
    pub gain: f32,
    /// Latency compensation in frames.
    pub delay: usize,
    /// When a fader or send level it includes is automated: its gain frame by frame, which
    /// replaces `gain`.
    pub auto: Option<EdgeGain>,
}

/// One term of a connection's gain in dB: a number or an envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum DbTerm {
    Fixed(f64),
    Env(Envelope),
}

impl DbTerm {
    fn new(db: f64, env: Option<&Envelope>) -> Self {
        env.map_or(DbTerm::Fixed(db), |e| DbTerm::Env(e.clone()))
    }

    fn at(&self, t: f64) -> f64 {
        match self {
            DbTerm::Fixed(db) => *db,
            DbTerm::Env(e) => e.value_at(t),
        }
    }
}

/// An automated connection's gain: `10^(dB/20)` of the sum of its terms, in the order the
/// static gain adds them (send level, then fader), so flat envelopes give the static gain's
/// bits. The envelopes are read at the song time of the frame that arrives at the destination,
/// after the latency compensation, so every path sees them at the same moment of the stems.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeGain {
    pub terms: Vec<DbTerm>,
}

impl EdgeGain {
    /// The gain of frames `start..start + out.len()` of the song (frame `i` at `i / rate` s)
    /// into `out`; computed once when no term moves over them.
    pub fn fill(&self, start: i64, rate: f64, out: &mut [f32]) {
        let t0 = start as f64 / rate;
        let t1 = (start + out.len() as i64) as f64 / rate;
        let still = self.terms.iter().all(|x| match x {
            DbTerm::Fixed(_) => true,
            DbTerm::Env(e) => e.constant_over(t0, t1).is_some(),
        });
        if still {
            out.fill(self.at(t0));
            return;
        }
        for (i, g) in out.iter_mut().enumerate() {
            *g = self.at((start + i as i64) as f64 / rate);
        }
    }

    /// The linear gain at song time `t` seconds.
    pub fn at(&self, t: f64) -> f32 {
        let mut it = self.terms.iter();
        let first = it.next().map_or(0.0, |x| x.at(t));
        db_to_gain(it.fold(first, |db, x| db + x.at(t))) as f32
    }
}

/// Latency and tail of each node's own processing, in frames.
#[derive(Debug, Clone, Default)]
pub struct NodeTimes {
    pub track_latency: Vec<usize>,
    pub track_tail: Vec<usize>,
    pub bus_latency: Vec<usize>,
    pub bus_tail: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// Buses in an order where every bus comes after all buses feeding it.
    pub bus_order: Vec<usize>,
    /// Inputs of each bus, in summing order.
    pub into_bus: Vec<Vec<Edge>>,
    /// Inputs of the master, in summing order.
    pub into_master: Vec<Edge>,
    /// Total latency of each node's output relative to the stems.
    pub track_out_latency: Vec<usize>,
    /// Latency of each bus's summed input (before its own chain).
    pub bus_in_latency: Vec<usize>,
    pub bus_out_latency: Vec<usize>,
    /// Latency of the mix arriving at the master, trimmed from the start of the render.
    pub mix_latency: usize,
    /// Longest ringing of any path to the master, in frames.
    pub tail: usize,
    /// Tracks grouped so that every sidechain key is rendered in an earlier group.
    pub track_groups: Vec<Vec<usize>>,
    /// Tracks whose signal must be rendered: audible, or keying a compressor.
    pub track_active: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("internal routing error: {0}")]
pub struct PlanError(pub String);

pub fn sidechain_keys(fx: &[crate::session::model::Fx]) -> impl Iterator<Item = usize> + '_ {
    fx.iter().filter_map(|f| match &f.config {
        FxConfig::Compressor(c) => c.sidechain,
        _ => None,
    })
}

/// Tracks grouped by sidechain depth: group 0 keys nothing, group n is keyed only by tracks in
/// earlier groups. Validation rejects sidechain loops; one here is an internal error.
pub fn track_levels(s: &Session) -> Result<Vec<Vec<usize>>, PlanError> {
    let deps: Vec<Vec<usize>> = s
        .tracks
        .iter()
        .map(|t| sidechain_keys(&t.fx).collect())
        .collect();
    let level = graph::depths(&deps).ok_or_else(|| PlanError("the sidechains loop".into()))?;
    let levels = level.iter().copied().max().map_or(0, |m| m + 1);
    let mut groups = vec![Vec::new(); levels];
    for (i, &l) in level.iter().enumerate() {
        groups[l].push(i);
    }
    Ok(groups)
}

/// The automated gain of a connection with a first term (`db`, or its envelope) and, for a
/// post-fader send, the fader as a second; `None` when nothing in it is automated.
fn edge_gain(
    db: f64,
    env: Option<&Envelope>,
    fader: Option<(f64, Option<&Envelope>)>,
) -> Option<EdgeGain> {
    let automated = env.is_some() || fader.is_some_and(|(_, e)| e.is_some());
    automated.then(|| {
        let mut terms = vec![DbTerm::new(db, env)];
        terms.extend(fader.map(|(db, e)| DbTerm::new(db, e)));
        EdgeGain { terms }
    })
}

impl Plan {
    pub fn new(s: &Session, times: &NodeTimes) -> Result<Plan, PlanError> {
        let nb = s.buses.len();

        // Bus order: every bus after the buses feeding it (by output or send).
        let mut feeds: Vec<(usize, usize)> = Vec::new();
        for (i, b) in s.buses.iter().enumerate() {
            if let Dest::Bus(t) = b.output {
                feeds.push((i, t));
            }
            feeds.extend(b.sends.iter().map(|x| (i, x.bus)));
        }
        let bus_order = graph::topological_order(nb, &feeds)
            .ok_or_else(|| PlanError("the bus graph has a cycle".into()))?;

        // Which tracks must render: audible ones and sidechain keys of audible processing (the
        // master's included).
        let mut track_active: Vec<bool> = s.tracks.iter().map(|t| !t.muted).collect();
        let mut keys_needed: Vec<usize> = s
            .tracks
            .iter()
            .filter(|t| !t.muted)
            .flat_map(|t| sidechain_keys(&t.fx))
            .chain(s.buses.iter().flat_map(|b| sidechain_keys(&b.fx)))
            .chain(sidechain_keys(&s.master.fx))
            .collect();
        while let Some(k) = keys_needed.pop() {
            if !track_active[k] {
                track_active[k] = true;
                keys_needed.extend(sidechain_keys(&s.tracks[k].fx));
            }
        }

        let track_groups: Vec<Vec<usize>> = track_levels(s)?
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .filter(|&i| track_active[i])
                    .collect::<Vec<_>>()
            })
            .filter(|g| !g.is_empty())
            .collect();

        // Edges in summing order: tracks in session order, then buses in session order.
        let mut into_bus: Vec<Vec<Edge>> = vec![Vec::new(); nb];
        let mut into_master: Vec<Edge> = Vec::new();
        let mut connect = |from: Node, dest: Dest, gain_db: f64, auto: Option<EdgeGain>| {
            let e = Edge {
                from,
                gain: db_to_gain(gain_db) as f32,
                delay: 0,
                auto,
            };
            match dest {
                Dest::Master => into_master.push(e),
                Dest::Bus(b) => into_bus[b].push(e),
            }
        };
        // A node's main output (through its fader) and its sends (post-fader ones through the
        // fader too; automated terms become an edge's envelope).
        let mut node =
            |from: Node, output: Dest, gain_db: f64, auto: &MixAutomation, sends: &[Send]| {
                let fader = auto.gain_db.as_ref();
                connect(from, output, gain_db, edge_gain(gain_db, fader, None));
                for (k, send) in sends.iter().enumerate() {
                    let db = send.level_db + if send.pre_fader { 0.0 } else { gain_db };
                    let edge = edge_gain(
                        send.level_db,
                        auto.send(k),
                        (!send.pre_fader).then_some((gain_db, fader)),
                    );
                    connect(from, Dest::Bus(send.bus), db, edge);
                }
            };
        for (i, t) in s.tracks.iter().enumerate().filter(|(_, t)| !t.muted) {
            node(Node::Track(i), t.output, t.gain_db, &t.auto, &t.sends);
        }
        for (i, b) in s.buses.iter().enumerate().filter(|(_, b)| !b.muted) {
            node(Node::Bus(i), b.output, b.gain_db, &b.auto, &b.sends);
        }

        // Latency: each bus waits for its latest input; earlier inputs are delayed to match.
        let track_out_latency = times.track_latency.clone();
        let track_tail = &times.track_tail;
        let mut bus_out_latency = vec![0usize; nb];
        let mut bus_in_latency = vec![0usize; nb];
        let mut bus_out_tail = vec![0usize; nb];
        let out_lat = |n: Node, bl: &[usize]| match n {
            Node::Track(i) => track_out_latency[i],
            Node::Bus(i) => bl[i],
        };
        let out_tail = |n: Node, bt: &[usize]| match n {
            Node::Track(i) => track_tail[i],
            Node::Bus(i) => bt[i],
        };
        for &b in &bus_order {
            let arrive = into_bus[b]
                .iter()
                .map(|e| out_lat(e.from, &bus_out_latency))
                .max()
                .unwrap_or(0);
            for e in &mut into_bus[b] {
                e.delay = arrive - out_lat(e.from, &bus_out_latency);
            }
            bus_in_latency[b] = arrive;
            bus_out_latency[b] = arrive + times.bus_latency[b];
            bus_out_tail[b] = into_bus[b]
                .iter()
                .map(|e| out_tail(e.from, &bus_out_tail))
                .max()
                .unwrap_or(0)
                + times.bus_tail[b];
        }
        let mix_latency = into_master
            .iter()
            .map(|e| out_lat(e.from, &bus_out_latency))
            .max()
            .unwrap_or(0);
        for e in &mut into_master {
            e.delay = mix_latency - out_lat(e.from, &bus_out_latency);
        }
        let tail = into_master
            .iter()
            .map(|e| out_tail(e.from, &bus_out_tail))
            .max()
            .unwrap_or(0);

        Ok(Plan {
            bus_order,
            into_bus,
            into_master,
            track_out_latency,
            bus_in_latency,
            bus_out_latency,
            mix_latency,
            tail,
            track_groups,
            track_active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::decode::StemInfo;
    use crate::session::model::*;

    fn track(name: &str, output: Dest, sends: Vec<Send>) -> Track {
        Track {
            name: name.into(),
            file: "x.wav".into(),
            file_display: "x.wav".into(),
            stem: StemInfo {
                sample_rate: 48000,
                channels: 2,
                frames: Some(1),
                format: String::new(),
            },
            gain_db: 0.0,
            pan: 0.0,
            width: 1.0,
            offset_s: 0.0,
            region: Default::default(),
            regions: Vec::new(),
            polarity_invert: false,
            muted: false,
            solo: false,
            output,
            sends,
            fx: Vec::new(),
            auto: Default::default(),
        }
    }

    fn bus(name: &str, output: Dest) -> Bus {
        Bus {
            name: name.into(),
            gain_db: 0.0,
            pan: 0.0,
            width: 1.0,
            muted: false,
            output,
            sends: Vec::new(),
            fx: Vec::new(),
            auto: Default::default(),
        }
    }

    fn session(tracks: Vec<Track>, buses: Vec<Bus>) -> Session {
        Session {
            file: "s.toml".into(),
            name: "s".into(),
            sample_rate: 48000,
            tail: Tail::Auto,
            tempo_bpm: None,
            tracks,
            buses,
            master: Master::default(),
            outputs: Vec::new(),
            report: Default::default(),
            plots: Vec::new(),
            tags: Default::default(),
            seed: 0,
            warnings: Vec::new(),
            seams: Default::default(),
            album_gain: false,
            inputs: Vec::new(),
        }
    }

    #[test]
    fn parallel_paths_are_delayed_to_the_slowest() {
        // t0 (latency 100) -> master and -> send -> bus 1 (latency 30) -> bus 0 -> master;
        // t1 (latency 0) -> bus 0.
        let s = session(
            vec![
                track(
                    "t0",
                    Dest::Master,
                    vec![Send {
                        bus: 1,
                        level_db: 0.0,
                        pre_fader: false,
                    }],
                ),
                track("t1", Dest::Bus(0), Vec::new()),
            ],
            vec![bus("b0", Dest::Master), bus("b1", Dest::Bus(0))],
        );
        let times = NodeTimes {
            track_latency: vec![100, 0],
            track_tail: vec![10, 5],
            bus_latency: vec![0, 30],
            bus_tail: vec![1000, 0],
        };
        let p = Plan::new(&s, &times).unwrap();
        assert_eq!(
            p.bus_order,
            vec![1, 0],
            "bus 1 feeds bus 0, so it goes first"
        );
        // Bus 1: only t0 arrives (latency 100); its output is at 130.
        assert_eq!(p.bus_out_latency[1], 130);
        // Bus 0: t1 (0) and bus 1 (130) -> t1 is delayed by 130.
        let into0: Vec<(Node, usize)> = p.into_bus[0].iter().map(|e| (e.from, e.delay)).collect();
        assert_eq!(into0, vec![(Node::Track(1), 130), (Node::Bus(1), 0)]);
        // Master: t0 direct (100) and bus 0 (130) -> t0 delayed by 30; the mix is 130 late.
        let into_m: Vec<(Node, usize)> = p.into_master.iter().map(|e| (e.from, e.delay)).collect();
        assert_eq!(into_m, vec![(Node::Track(0), 30), (Node::Bus(0), 0)]);
        assert_eq!(p.mix_latency, 130);
        // Tail: the longest ringing path is t0 (10) -> bus 1 -> bus 0 (1000).
        assert_eq!(p.tail, 1010);
    }

    #[test]
    fn muted_tracks_have_no_edges_and_fixed_summing_order() {
        let mut t1 = track("t1", Dest::Master, Vec::new());
        t1.muted = true;
        let s = session(
            vec![
                track("t0", Dest::Master, Vec::new()),
                t1,
                track("t2", Dest::Master, Vec::new()),
            ],
            vec![],
        );
        let p = Plan::new(
            &s,
            &NodeTimes {
                track_latency: vec![0; 3],
                track_tail: vec![0; 3],
                ..Default::default()
            },
        )
        .unwrap();
        let from: Vec<Node> = p.into_master.iter().map(|e| e.from).collect();
        assert_eq!(from, vec![Node::Track(0), Node::Track(2)]);
        assert_eq!(p.track_active, vec![true, false, true]);
    }
}
