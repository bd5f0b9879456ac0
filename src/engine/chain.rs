//! A node's processor chain, with its sidechain keys kept sample-aligned: a compressor keyed by
//! another track sees the key delayed by exactly the latency its own input has accumulated, and
//! when the key is the later of the two, the program is delayed in front of the compressor
//! instead (which adds to the chain's latency, and so to the alignment of everything after).

use crate::dsp::biquad::Cascade;
use crate::dsp::delay_line::DelayLine;
use crate::dsp::dynamics::Compressor;
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
        Chain::run_group(&mut [self], &mut [buf], n, keys, frame, rate)
    }

    /// Run every chain of `chains` on its own `bufs[k][..n]` (`keys` and the checks as in
    /// [`Chain::run`]), stage by stage across the chains: where the chains' stages at one place
    /// are processors of a kind that runs side by side ([`dsp::Batch`]), without a key or
    /// automation, they run as one group (bit for bit what each would do alone); every other
    /// stage runs alone. The first stage (in chain order) with a sample that is not finite is
    /// the error.
    pub fn run_group(
        chains: &mut [&mut Chain],
        bufs: &mut [&mut [Vec<f32>; 2]],
        n: usize,
        keys: &Keys,
        frame: u64,
        rate: u32,
    ) -> Result<(), RenderError> {
        let mut at: Vec<usize> = chains.iter().map(|c| c.arrive).collect();
        let depth = chains.iter().map(|c| c.stages.len()).max().unwrap_or(0);
        for i in 0..depth {
            let (mut compressors, mut compressed) = (Vec::new(), Vec::new());
            let (mut cascades, mut filtered) = (Vec::new(), Vec::new());
            for ((c, buf), at) in chains.iter_mut().zip(bufs.iter_mut()).zip(&mut at) {
                debug_assert!(n <= c.max_block);
                let Some(s) = c.stages.get_mut(i) else {
                    continue;
                };
                let [l, r] = &mut **buf;
                let mut block = [&mut l[..n], &mut r[..n]];
                if let Some(d) = &mut s.pre_delay {
                    d.process(&mut block);
                    *at += d.delay();
                }
                let alone = s.key.is_some() || !s.auto.is_empty();
                if !alone && s.fx.batch().is_some() {
                    match s.fx.batch() {
                        Some(dsp::Batch::Compressor(f)) => {
                            compressors.push(f);
                            compressed.push(block);
                        }
                        Some(dsp::Batch::Cascade(f)) => {
                            cascades.push(f);
                            filtered.push(block);
                        }
                        None => {}
                    }
                } else {
                    s.run_alone(&mut block, keys, frame, rate, *at);
                }
            }
            Compressor::process_group(&mut compressors, &mut compressed);
            Cascade::process_group(&mut cascades, &mut filtered);
            for ((c, buf), at) in chains.iter_mut().zip(bufs.iter()).zip(&mut at) {
                let Some(s) = c.stages.get(i) else {
                    continue;
                };
                *at += s.fx.latency();
                let [l, r] = &**buf;
                s.check(&[&l[..n], &r[..n]], frame, rate)?;
            }
        }
        Ok(())
    }
}

impl Stage {
    /// The processor on `block` (its program delay already applied); `at` is the latency of
    /// the frames it receives, for reading its envelopes.
    fn run_alone(
        &mut self,
        block: &mut [&mut [f32]; 2],
        keys: &Keys,
        frame: u64,
        rate: u32,
        at: usize,
    ) {
        let n = block[0].len();
        let key = match self.key.and_then(|k| keys.get(k)) {
            Some([kl, kr]) => {
                let [bl, br] = &mut self.key_buf;
                bl[..n].copy_from_slice(&kl[..n]);
                br[..n].copy_from_slice(&kr[..n]);
                let mut kb = [&mut bl[..n], &mut br[..n]];
                if let Some(d) = &mut self.key_delay {
                    d.process(&mut kb);
                }
                Some([&bl[..n], &br[..n]])
            }
            None => None,
        };
        if self.auto.is_empty() {
            match key {
                Some(k) => self.fx.process_keyed(block, &k),
                None => self.fx.process(block),
            }
            return;
        }
        // Every AUTO_BLOCK frames, each envelope's value at the song time of the last frame
        // of the piece, which the processor reaches by that frame.
        let mut o = 0;
        while o < n {
            let m = AUTO_BLOCK.min(n - o);
            let last = frame as i64 + (o + m - 1) as i64 - at as i64;
            let t = last as f64 / f64::from(rate);
            for a in &self.auto {
                self.fx.set_param(a.param, a.envelope.value_at(t));
            }
            let [bl, br] = &mut *block;
            let mut piece = [&mut bl[o..o + m], &mut br[o..o + m]];
            match key {
                Some([kl, kr]) => self
                    .fx
                    .process_keyed(&mut piece, &[&kl[o..o + m], &kr[o..o + m]]),
                None => self.fx.process(&mut piece),
            }
            o += m;
        }
    }

    /// NaN or infinity in the stage's output `block` (starting at song frame `frame`) is an
    /// error naming the processor and the time.
    fn check<B: AsRef<[f32]>>(
        &self,
        block: &[B],
        frame: u64,
        rate: u32,
    ) -> Result<(), RenderError> {
        for ch in block {
            let ch = ch.as_ref();
            // A scan without early exit first (it vectorises), the position only when
            // something is wrong.
            let finite = ch.iter().fold(true, |ok, x| ok & x.is_finite());
            if !finite && let Some(i) = ch.iter().position(|x| !x.is_finite()) {
                return Err(RenderError::NonFinite {
                    path: self.path.clone(),
                    processor: self.fx.name(),
                    time_s: (frame + i as u64) as f64 / f64::from(rate),
                });
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
