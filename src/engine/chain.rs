//! A node's processor chain, with its sidechain keys kept sample-aligned: a compressor keyed by
//! another track sees the key delayed by exactly the latency its own input has accumulated, and
//! when the key is the later of the two, the program is delayed in front of the compressor
//! instead (which adds to the chain's latency, and so to the alignment of everything after).

use crate::dsp::delay_line::DelayLine;
use crate::dsp::envelope::{AUTO_BLOCK, Automation};
use crate::dsp::{self, ProcessSpec, Processor, Resources};
use crate::session::model::Fx;

use super::error::RenderError;

/// The current block of every track that keys a sidechain, copied out of the track as soon as
/// it is rendered, so processors that read a key never share the track's state across threads.
#[derive(Clone)]
pub struct Keys {
    blocks: Vec<Option<[Vec<f32>; 2]>>,
}

impl Keys {
    /// Room for the blocks of the tracks flagged in `keyed` (index = track).
    pub fn new(keyed: &[bool], max_block: usize) -> Self {
        Keys {
            blocks: keyed
                .iter()
                .map(|&k| k.then(|| [vec![0.0; max_block], vec![0.0; max_block]]))
                .collect(),
        }
    }

    /// Keep `block[..n]` as track `k`'s current key block (if `k` keys anything).
    pub fn store(&mut self, k: usize, block: &[Vec<f32>; 2], n: usize) {
        if let Some(Some([l, r])) = self.blocks.get_mut(k) {
            l[..n].copy_from_slice(&block[0][..n]);
            r[..n].copy_from_slice(&block[1][..n]);
        }
    }

    /// Track `k`'s current block, when it keys something.
    pub fn get(&self, k: usize) -> Option<[&[f32]; 2]> {
        self.blocks
            .get(k)
            .and_then(Option::as_ref)
            .map(|[l, r]| [&l[..], &r[..]])
    }
}

struct Stage {
    fx: Box<dyn Processor>,
    path: String,
    /// Track whose signal keys this processor.
    key: Option<usize>,
    /// Delay of the program in front of this stage (key later than program).
    pre_delay: Option<DelayLine>,
    /// Delay of the key (program later than key).
    key_delay: Option<DelayLine>,
    /// Scratch for the delayed key.
    key_buf: [Vec<f32>; 2],
    /// Parameters that follow envelopes (none: the block is processed whole).
    auto: Vec<Automation>,
}

pub struct Chain {
    stages: Vec<Stage>,
    max_block: usize,
    /// Latency of the chain's input relative to the stems, frames (set by `align_keys`):
    /// envelopes are read at the song time of the frames each stage receives.
    arrive: usize,
}

impl Chain {
    pub fn build(fx: &[Fx], spec: &ProcessSpec, res: &Resources) -> Result<Chain, RenderError> {
        let mut stages = Vec::with_capacity(fx.len());
        for f in fx {
            let mut p = dsp::construct(&f.config, res).map_err(|source| RenderError::Build {
                path: f.path.clone(),
                source,
            })?;
            let key = match &f.config {
                dsp::config::FxConfig::Compressor(c) => c.sidechain,
                _ => None,
            };
            for a in &f.automation {
                // Every value the envelope reaches at a point (its extremes are among them),
                // so the processor sizes its lines and tail for them, then its starting value,
                // which the config already holds. A processor that does not take the
                // parameter says so: no envelope is ever ignored.
                for &(_, v) in &a.envelope.points {
                    p.set_param(a.param, v);
                }
                if !p.set_param(a.param, a.envelope.first()) {
                    return Err(RenderError::NotAutomatable {
                        path: f.path.clone(),
                        param: a.param.key.name(),
                        processor: p.name(),
                    });
                }
            }
            p.prepare(spec);
            stages.push(Stage {
                fx: p,
                path: f.path.clone(),
                key,
                pre_delay: None,
                key_delay: None,
                key_buf: if key.is_some() {
                    [vec![0.0; spec.max_block], vec![0.0; spec.max_block]]
                } else {
                    [Vec::new(), Vec::new()]
                },
                auto: f.automation.clone(),
            });
        }
        Ok(Chain {
            stages,
            max_block: spec.max_block,
            arrive: 0,
        })
    }

    /// Frames of delay from the chain's input to its output.
    pub fn latency(&self) -> usize {
        self.stages
            .iter()
            .map(|s| s.fx.latency() + s.pre_delay.as_ref().map_or(0, DelayLine::delay))
            .sum()
    }

    /// Frames of ringing after the input stops (the stages ring in series).
    pub fn tail(&self) -> usize {
        self.stages.iter().map(|s| s.fx.tail()).sum()
    }

    /// Align every sidechain key. `arrive` is the latency of the chain's input relative to the
    /// stems; `key_latency(k)` that of track `k`'s output. Program pre-delays only ever grow, so
    /// calling this again after the routing plan changed converges. Returns whether a pre-delay
    /// grew (the chain's latency changed).
    pub fn align_keys(&mut self, arrive: usize, key_latency: &dyn Fn(usize) -> usize) -> bool {
        let mut grew = false;
        self.arrive = arrive;
        let mut at = arrive;
        for s in &mut self.stages {
            if let Some(k) = s.key {
                let key_at = key_latency(k);
                let pre = s.pre_delay.as_ref().map_or(0, DelayLine::delay);
                if key_at > at + pre {
                    s.pre_delay = Some(DelayLine::new(2, key_at - at));
                    grew = true;
                }
                let pre = s.pre_delay.as_ref().map_or(0, DelayLine::delay);
                let kd = at + pre - key_at;
                s.key_delay = (kd > 0).then(|| DelayLine::new(2, kd));
            }
            at += s.fx.latency() + s.pre_delay.as_ref().map_or(0, DelayLine::delay);
        }
        grew
    }

    /// Run the chain on `buf[..n]`. `keys` holds the current block of every track that keys a
    /// sidechain. Every stage's output is checked for NaN and infinity.
    pub fn run(
        &mut self,
        buf: &mut [Vec<f32>; 2],
        n: usize,
        keys: &Keys,
        frame: u64,
        rate: u32,
    ) -> Result<(), RenderError> {
        debug_assert!(n <= self.max_block);
        let mut at = self.arrive;
        for s in &mut self.stages {
            let [l, r] = buf;
            let mut block = [&mut l[..n], &mut r[..n]];
            if let Some(d) = &mut s.pre_delay {
                d.process(&mut block);
                at += d.delay();
            }
            let key = match s.key.and_then(|k| keys.get(k)) {
                Some([kl, kr]) => {
                    let [bl, br] = &mut s.key_buf;
                    bl[..n].copy_from_slice(&kl[..n]);
                    br[..n].copy_from_slice(&kr[..n]);
                    let mut kb = [&mut bl[..n], &mut br[..n]];
                    if let Some(d) = &mut s.key_delay {
                        d.process(&mut kb);
                    }
                    Some([&bl[..n], &br[..n]])
                }
                None => None,
            };
            if s.auto.is_empty() {
                match key {
                    Some(k) => s.fx.process_keyed(&mut block, &k),
                    None => s.fx.process(&mut block),
                }
            } else {
                // Every AUTO_BLOCK frames, each envelope's value at the song time of the last
                // frame of the piece, which the processor reaches by that frame.
                let mut o = 0;
                while o < n {
                    let m = AUTO_BLOCK.min(n - o);
                    let last = frame as i64 + (o + m - 1) as i64 - at as i64;
                    let t = last as f64 / f64::from(rate);
                    for a in &s.auto {
                        s.fx.set_param(a.param, a.envelope.value_at(t));
                    }
                    let [bl, br] = &mut block;
                    let mut piece = [&mut bl[o..o + m], &mut br[o..o + m]];
                    match key {
                        Some([kl, kr]) => {
                            s.fx.process_keyed(&mut piece, &[&kl[o..o + m], &kr[o..o + m]])
                        }
                        None => s.fx.process(&mut piece),
                    }
                    o += m;
                }
            }
            at += s.fx.latency();
            for ch in &block {
                // A scan without early exit first (it vectorises), the position only when
                // something is wrong.
                let finite = ch.iter().fold(true, |ok, x| ok & x.is_finite());
                if !finite && let Some(i) = ch.iter().position(|x| !x.is_finite()) {
                    return Err(RenderError::NonFinite {
                        path: s.path.clone(),
                        processor: s.fx.name(),
                        time_s: (frame + i as u64) as f64 / f64::from(rate),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::config::{FxConfig, GainConfig};

    /// A sample that is not finite after a processor stops the render, naming the processor's
    /// place and the song time of the first such sample (in either channel, at any position
    /// of the block).
    #[test]
    fn a_non_finite_sample_is_reported_with_its_time() {
        let spec = ProcessSpec {
            sample_rate: 48_000.0,
            max_block: 4096,
            channels: 2,
        };
        let fx = [Fx {
            config: FxConfig::Gain(GainConfig { gain_db: 6.0 }),
            path: "track[0] \"a\".fx[0]".into(),
            automation: Vec::new(),
        }];
        let mut chain = Chain::build(&fx, &spec, &Resources::default()).unwrap();
        let keys = Keys::new(&[], 4096);
        let mut clean = [vec![0.25f32; 4096], vec![-0.25f32; 4096]];
        chain.run(&mut clean, 4096, &keys, 0, 48_000).unwrap();
        for (ch, at, bad) in [
            (0, 1000, f32::NAN),
            (1, 4095, f32::INFINITY),
            (1, 0, f32::NAN),
        ] {
            let mut buf = [vec![0.25f32; 4096], vec![-0.25f32; 4096]];
            buf[ch][at] = bad;
            let err = chain
                .run(&mut buf, 4096, &keys, 48_000, 48_000)
                .unwrap_err();
            match err {
                RenderError::NonFinite {
                    path,
                    processor,
                    time_s,
                } => {
                    assert_eq!(path, "track[0] \"a\".fx[0]");
                    assert_eq!(processor, "gain");
                    assert_eq!(time_s, (48_000 + at) as f64 / 48_000.0);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
