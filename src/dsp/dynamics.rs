//! Dynamics processors: a feed-forward compressor (also the per-band engine of the multiband
//! stage), a noise gate and a split-band de-esser.
//!
//! All three are stereo-linked: one gain, computed from the loudest channel, is applied to every
//! channel, so a dynamic change never shifts the stereo image. Envelopes and filter state are
//! `f64`; decaying state is flushed to zero well before it could become subnormal, and outputs
//! are flushed too. Nothing allocates outside `prepare`, and every processor works sample by
//! sample, so the output does not depend on how the engine cuts the signal into blocks.
//!
//! The compressor follows Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor
//! Design — A Tutorial and Analysis", J. Audio Eng. Soc. 60(6), 2012 (cited below as
//! "Giannoulis"): a log-domain gain computer with a quadratic soft knee (eq. 4) followed by
//! their "smooth branching peak detector" acting on the gain reduction in dB, the placement
//! (after the gain computer, in the log domain) they recommend for smooth, artefact-free release.

use super::biquad::{GLIDE_STEP, Glide};
use super::config::{CompressorConfig, DeesserConfig, Detector, GateConfig};
use super::db::{DB_PER_NEPER, fast_db_to_gain, fast_gain_to_db};
use super::envelope::{ParamId, ParamKey, Ramp};
use super::simd;
use super::vmath::exp_f32;
use super::{GROUP, ProcessSpec, Processor, db_to_gain};

/// Sample rate the coefficients assume until `prepare` gives the real one, in Hz.
const DEFAULT_RATE: f64 = 48_000.0;

/// Levels are floored here before taking logarithms (-200 dBFS): far below any threshold the
/// session file accepts, and it keeps `log10(0) = -inf` out of the arithmetic.
const LEVEL_FLOOR: f64 = 1e-10;

/// Mean squares and filter states below this are set to zero. It is -300 dB, inaudible, and
/// far above the `f64` subnormal range (1e-308), whose arithmetic is slow on x86.
const STATE_FLOOR: f64 = 1e-30;

/// A smoother whose remaining distance to its target is below this snaps onto the target (it
/// is a dB amount or a linear gain: 1e-15 of either is inaudible). Without it an exponential
/// approach to 0 would crawl through the subnormals.
const SNAP: f64 = 1e-15;

/// Time constant of the compressor's RMS detector (`detector = "rms"`), in ms: a one-pole
/// average of x², then a square root. 10 ms is the usual short "RMS window" of analogue RMS
/// compressors (the one-pole's equivalent rectangular window is 2τ = 20 ms); the ripple it leaves
/// on a sine is ±0.035 dB at 1 kHz and ±0.35 dB at 100 Hz.
pub const RMS_TIME_MS: f64 = 10.0;

/// Time constant of the gate's level detector in ms: instant attack, exponential release of the
/// peak envelope. It bridges the zero crossings of a sine down to about 30 Hz (lower notes need
/// `hold_ms`), and after the signal stops it delays closing by `τ · ln(peak / close level)`.
pub const GATE_DETECTOR_MS: f64 = 5.0;

/// Gate hysteresis in dB: the gate opens when the level reaches `threshold_db` and closes only
/// when it falls below `threshold_db - GATE_HYSTERESIS_DB`, so a level hovering at the threshold
/// does not chatter.
pub const GATE_HYSTERESIS_DB: f64 = 3.0;

/// Q of the de-esser's band (cookbook band-pass, 0 dB peak): Q = 1 spans 1.39 octaves between
/// the -3 dB points 0.62·f and 1.62·f (4.0 to 10.5 kHz around 6.5 kHz), the usual spread of
/// sibilance.
pub const DEESSER_Q: f64 = 1.0;

/// Time constant of the de-esser's band level detector (one-pole mean square), in ms. Short,
/// so the reduction starts within the first few ms of an "s"; at 7 kHz it leaves ±0.05 dB of
/// ripple.
pub const DEESSER_RMS_MS: f64 = 2.0;

/// De-esser gain-reduction attack time constant in ms: fast, sibilants start abruptly.
pub const DEESSER_ATTACK_MS: f64 = 1.0;

/// De-esser gain-reduction release time constant in ms: sibilants last 50–200 ms; 30 ms lets go
/// before the following vowel without pumping within the "s".
pub const DEESSER_RELEASE_MS: f64 = 30.0;

/// One-pole coefficient `a` for a time constant `tau_ms` at `rate` Hz: the step response
/// `1 - a^n` reaches 1 - 1/e after `tau_ms` (the time-constant definition Giannoulis use). A
/// non-positive time constant gives 0, an instant response.
fn one_pole(tau_ms: f64, rate: f64) -> f64 {
    if tau_ms > 0.0 && rate > 0.0 {
        (-1000.0 / (tau_ms * rate)).exp()
    } else {
        0.0
    }
}

/// Amplitude to dBFS, floored at [`LEVEL_FLOOR`].
#[inline(always)]
fn amp_to_db(a: f64) -> f64 {
    fast_gain_to_db(a.max(LEVEL_FLOOR))
}

/// Round to `f32`, flushing a subnormal result to zero.
#[inline]
fn out(y: f64) -> f32 {
    let y = y as f32;
    if y.is_subnormal() { 0.0 } else { y }
}

/// Frames in a block: the shortest channel, so a malformed block cannot index out of bounds.
fn frames(block: &[&mut [f32]]) -> usize {
    block.iter().map(|c| c.len()).min().unwrap_or(0)
}

/// Attack/release ballistics: the "smooth branching peak detector" of Giannoulis. It moves
/// toward its target with the attack coefficient while the target is above the current value,
/// with the release coefficient otherwise, so each direction is a clean exponential with its
/// own time constant (their "smooth decoupled" detector would blur release into attack, and
/// the tests could no longer read either time constant off a step).
#[derive(Debug, Clone, Copy)]
struct Ballistics {
    attack: f64,
    release: f64,
}

impl Ballistics {
    fn new(attack_ms: f64, release_ms: f64, rate: f64) -> Self {
        Ballistics {
            attack: one_pole(attack_ms, rate),
            release: one_pole(release_ms, rate),
        }
    }

    /// One step from `y` toward `target`. Written as `target + a(y - target)` (the same as
    /// `a·y + (1 - a)·target`) so a settled value stays exactly on its target.
    #[inline(always)]
    fn step(&self, y: f64, target: f64) -> f64 {
        step(self.attack, self.release, y, target)
    }
}

/// [`Ballistics::step`] with the coefficients apart (so a loop over several keeps them in
/// registers).
#[inline(always)]
fn step(attack: f64, release: f64, y: f64, target: f64) -> f64 {
    let a = if target > y { attack } else { release };
    let d = a * (y - target);
    if d.abs() < SNAP { target } else { target + d }
}

/// The static curve of the compressor: gain change in dB (0 or negative, before makeup) for a
/// detector level `level_db` in dBFS. Giannoulis eq. 4, with threshold T, ratio R and knee
/// width W: no change below T - W/2, `(T - x)(1 - 1/R)` above T + W/2, and between them the
/// quadratic `(1/R - 1)(x - T + W/2)² / 2W`, which meets both lines with matching slopes. A
/// knee of 0 dB is the hard knee.
///
/// Both curves are computed and one is selected, so a loop over frames has no branch and
/// vectorises.
#[inline(always)]
pub fn static_gain_db(cfg: &CompressorConfig, level_db: f64) -> f64 {
    let t = cfg.threshold_db;
    let w = cfg.knee_db.max(0.0);
    let slope = 1.0 / cfg.ratio.max(1.0) - 1.0;
    let over = level_db - t;
    let knee = slope * (over + w / 2.0) * (over + w / 2.0) / (2.0 * w);
    let above = slope * over;
    if 2.0 * over <= -w {
        // Also the hard knee's exact threshold, where the quadratic divides by W = 0.
        0.0
    } else if 2.0 * over < w {
        knee
    } else {
        above
    }
}

/// `each` of every value of `values`, in place, except that where all of eight values in a
/// row are `settled`, the eight become `settled_to` without `each` (which must give
/// `settled_to` for every settled value, so the results are the same either way).
#[inline(always)]
fn map_unless_settled(
    values: &mut [f64],
    settled: impl Fn(f64) -> bool,
    settled_to: f64,
    each: impl Fn(f64) -> f64,
) {
    let mut rows = values.chunks_exact_mut(8);
    for row in &mut rows {
        // (A fold, not `all`: no early exit, so the test is a vector compare.)
        if row.iter().fold(true, |all, &v| all & settled(v)) {
            row.fill(settled_to);
        } else {
            for v in row.iter_mut() {
                *v = each(*v);
            }
        }
    }
    for v in rows.into_remainder() {
        *v = each(*v);
    }
}

/// Frames a [`Compressor`] works on at a time (its gain factors are held for this many).
const CHUNK: usize = 1024;

/// Feed-forward, stereo-linked compressor with a soft knee, peak or RMS detection, dB-domain
/// attack/release, makeup gain and a dry/wet mix for parallel compression.
///
/// Per frame: the detector level is the largest of the channels' levels (of the key's channels
/// under [`Processor::process_keyed`]); [`static_gain_db`] turns it into a target reduction;
/// Giannoulis' smooth branching peak detector smooths that reduction in dB, with `attack_ms`
/// and `release_ms` as 1 - 1/e time constants; the gain `10^((makeup - reduction)/20)` is then
/// applied to every channel, blended as `mix·compressed + (1 - mix)·dry`.
///
/// It holds a few numbers and one mean square per channel, so a multiband stage can run one per
/// band: feed each band's planar buffer to `process`.
#[derive(Debug, Clone)]
pub struct Compressor {
    cfg: CompressorConfig,
    ballistics: Ballistics,
    rms_coeff: f64,
    /// Detector level (linear) below which the static curve is 0: skips the logarithm.
    knee_start: f64,
    /// Smoothed gain reduction in dB, >= 0.
    reduction_db: f64,
    /// Per-channel mean square of the RMS detector.
    mean_square: Vec<f64>,
    /// `makeup_db` and `mix` under automation, ramped per sample (threshold and ratio move
    /// per block: the attack and release smooth what they change).
    makeup_ramp: Ramp,
    mix_ramp: Ramp,
    /// Sample rate, Hz (for time constants moved by automation).
    rate: f64,
}

impl Compressor {
    /// A compressor for `cfg` (validated: threshold -80..0 dB, ratio 1..100, knee 0..24 dB,
    /// attack 0.01..500 ms, release 1..5000 ms, makeup -24..24 dB, mix 0..1). `cfg.sidechain`
    /// is the engine's business: it decides whether to call `process_keyed`.
    pub fn new(cfg: &CompressorConfig) -> Self {
        let mut c = Compressor {
            cfg: cfg.clone(),
            ballistics: Ballistics::new(cfg.attack_ms, cfg.release_ms, DEFAULT_RATE),
            rms_coeff: one_pole(RMS_TIME_MS, DEFAULT_RATE),
            knee_start: db_to_gain(cfg.threshold_db - cfg.knee_db.max(0.0) / 2.0),
            reduction_db: 0.0,
            mean_square: Vec::new(),
            makeup_ramp: Ramp::new(cfg.makeup_db),
            mix_ramp: Ramp::new(cfg.mix.clamp(0.0, 1.0)),
            rate: DEFAULT_RATE,
        };
        c.cfg.mix = cfg.mix.clamp(0.0, 1.0);
        c
    }

    /// The detector level below which the static curve is 0, after the threshold or knee moved.
    fn set_knee_start(&mut self) {
        self.knee_start = db_to_gain(self.cfg.threshold_db - self.cfg.knee_db.max(0.0) / 2.0);
    }

    /// Current smoothed gain reduction in dB (0 = none, 6 = 6 dB down), before makeup and mix:
    /// for a gain-reduction meter. Read it between blocks.
    pub fn gain_reduction_db(&self) -> f64 {
        self.reduction_db
    }

    /// Detector level (linear amplitude) of frame `i` of `chans`: the largest of the
    /// channels' levels (a missing sample reads as silence).
    #[inline]
    fn detect<C: AsRef<[f32]>>(&mut self, chans: &[C], i: usize) -> f64 {
        let at = |c: &C| f64::from(c.as_ref().get(i).copied().unwrap_or(0.0));
        match self.cfg.detector {
            Detector::Peak => chans.iter().fold(0.0, |m: f64, c| m.max(at(c).abs())),
            Detector::Rms => {
                let a = self.rms_coeff;
                let mut m: f64 = 0.0;
                for (s, c) in self.mean_square.iter_mut().zip(chans) {
                    let x = at(c);
                    let x2 = x * x;
                    *s = x2 + a * (*s - x2);
                    if *s < STATE_FLOOR {
                        *s = 0.0;
                    }
                    m = m.max(*s);
                }
                m.sqrt()
            }
        }
    }

    /// The block in chunks of at most [`CHUNK`] frames (every frame's gain depends only on the
    /// frames before it, so the chunks change nothing but memory). The chunk's gain factors
    /// live on the stack, shared by every compressor a thread runs, rather than one buffer per
    /// compressor held for the whole render.
    fn run(&mut self, block: &mut [&mut [f32]], key: Option<&[&[f32]]>) {
        let n = frames(block);
        let mut factors = [0.0f64; CHUNK];
        let mut start = 0;
        while start < n {
            let end = n.min(start + CHUNK);
            self.run_chunk(block, key, start..end, &mut factors);
            start = end;
        }
    }

    /// In three passes over the frames `range` of the block: the smoothed gain reduction of
    /// every frame (the only part that must go sample by sample), the gain factors (a polynomial
    /// `exp`, which the compiler can vectorise), then the factors applied to each channel. (A
    /// key shorter than the block reads as silence past its end.) `factors` holds the per-frame
    /// gain reduction, then gain factor, of the chunk (at least `range.len()` long).
    fn run_chunk(
        &mut self,
        block: &mut [&mut [f32]],
        key: Option<&[&[f32]]>,
        range: std::ops::Range<usize>,
        factors: &mut [f64],
    ) {
        let factors_n = &mut factors[..range.len()];
        self.targets(block, key, range.clone(), factors_n);
        let ballistics = self.ballistics;
        let mut reduction = self.reduction_db;
        for f in factors_n.iter_mut() {
            reduction = ballistics.step(reduction, *f);
            *f = reduction;
        }
        self.reduction_db = reduction;
        self.apply(block, range, factors_n);
    }

    /// The target reduction of every frame of `range` (dB, 0 below the knee) into `factors`
    /// (`range.len()` long).
    fn targets(
        &mut self,
        block: &[&mut [f32]],
        key: Option<&[&[f32]]>,
        range: std::ops::Range<usize>,
        factors: &mut [f64],
    ) {
        let start = range.start;
        // The common case, a stereo block and a peak detector, without the general loop.
        let stereo_peak = match (key, block) {
            (None, [l, r]) if self.cfg.detector == Detector::Peak => {
                Some((&l[range.clone()], &r[range.clone()]))
            }
            _ => None,
        };
        // The target reduction of every frame first, then the ballistics over them: apart,
        // the recursion is a short loop of selects the CPU does not mispredict, and the
        // logarithms overlap instead of stalling it.
        match (stereo_peak, key) {
            (Some((l, r)), _) => {
                for (f, (a, b)) in factors.iter_mut().zip(l.iter().zip(r)) {
                    *f = f64::from(a.abs().max(b.abs()));
                }
            }
            (None, Some(k)) => {
                for (i, f) in factors.iter_mut().enumerate() {
                    *f = self.detect(k, start + i);
                }
            }
            (None, None) => {
                for (i, f) in factors.iter_mut().enumerate() {
                    *f = self.detect(block, start + i);
                }
            }
        }
        // The closures own copies of the numbers they read (`move`): read through references,
        // the compiler must assume a store to `factors` could change them and keeps the loop
        // scalar where it cannot check that at run time.
        let (cfg, knee_start) = (self.cfg.clone(), self.knee_start);
        simd::wide(
            #[inline(always)]
            move || {
                // Most frames of most programs sit below the knee: eight at a time there skip
                // the logarithm.
                map_unless_settled(
                    factors,
                    |f| f < knee_start,
                    0.0,
                    #[inline(always)]
                    |f| {
                        let target = -static_gain_db(&cfg, amp_to_db(f));
                        if f < knee_start { 0.0 } else { target }
                    },
                );
            },
        );
    }

    /// The smoothed reductions `factors` of the frames `range` (dB) turned into gain factors
    /// (makeup and mix) and applied to every channel. The factors are single precision, like
    /// the samples they scale: `e^x` in f32 is within 1 ulp (10^-6 dB), a fraction of the
    /// rounding every f32 product adds, and eight frames take one vector operation.
    fn apply(
        &mut self,
        block: &mut [&mut [f32]],
        range: std::ops::Range<usize>,
        factors: &mut [f64],
    ) {
        let n = range.len();
        let mut gains = [0.0f32; CHUNK];
        let gains = &mut gains[..n];
        // e^x of every frame's gain in nepers, blended with the dry signal by its wet share.
        // (With mix = 0 the factor is exactly 1, and with no makeup and no reduction e^0 = 1:
        // the signal passes bit for bit.)
        if self.makeup_ramp.moving() || self.mix_ramp.moving() {
            let (u0, du) = self.makeup_ramp.begin(n);
            let (m0, dm) = self.mix_ramp.begin(n);
            for (i, (g, &f)) in gains.iter_mut().zip(&*factors).enumerate() {
                let k = (i + 1) as f64;
                let m = (m0 + dm * k) as f32;
                *g = m * exp_f32(((u0 + du * k - f) / DB_PER_NEPER) as f32) + (1.0 - m);
            }
            self.cfg.makeup_db = self.makeup_ramp.target();
            self.cfg.mix = self.mix_ramp.target();
        } else {
            let (makeup_db, m) = (self.cfg.makeup_db, self.cfg.mix as f32);
            let fs = &*factors;
            let gs = &mut *gains;
            // Two loops: the f64 -> f32 one runs four frames to a vector, e^x eight.
            simd::wide(
                #[inline(always)]
                move || {
                    for (g, &f) in gs.iter_mut().zip(fs) {
                        *g = ((makeup_db - f) / DB_PER_NEPER) as f32;
                    }
                    for g in gs.iter_mut() {
                        *g = m * exp_f32(*g) + (1.0 - m);
                    }
                },
            );
        }
        for ch in block.iter_mut() {
            let xs = &mut ch[range.clone()];
            let gs = &*gains;
            simd::wide(
                #[inline(always)]
                move || {
                    for (x, &g) in xs.iter_mut().zip(gs) {
                        let y = *x * g;
                        *x = if y.is_subnormal() { 0.0 } else { y };
                    }
                },
            );
        }
    }

    /// Run `comps` over their own stereo `blocks` (one each, all the same length), as
    /// `process` does, bit for bit: the detectors and gains one compressor at a time, the
    /// ballistics of up to [`GROUP`] compressors side by side, one lane each.
    pub fn process_group(comps: &mut [&mut Compressor], blocks: &mut [[&mut [f32]; 2]]) {
        for (cs, bs) in comps.chunks_mut(GROUP).zip(blocks.chunks_mut(GROUP)) {
            match cs.len() {
                1 => {
                    let [l, r] = &mut bs[0];
                    cs[0].process(&mut [&mut **l, &mut **r]);
                }
                2 => Compressor::lanes::<2>(cs, bs),
                3 => Compressor::lanes::<3>(cs, bs),
                _ => Compressor::lanes::<4>(cs, bs),
            }
        }
    }

    /// [`Compressor::process_group`] for `G` compressors.
    fn lanes<const G: usize>(cs: &mut [&mut Compressor], blocks: &mut [[&mut [f32]; 2]]) {
        let n = blocks
            .iter()
            .map(|[l, r]| l.len().min(r.len()))
            .min()
            .unwrap_or(0);
        let mut factors = [[0.0f64; CHUNK]; G];
        let attack: [f64; G] = std::array::from_fn(|g| cs[g].ballistics.attack);
        let release: [f64; G] = std::array::from_fn(|g| cs[g].ballistics.release);
        let mut start = 0;
        while start < n {
            let end = n.min(start + CHUNK);
            let m = end - start;
            for ((c, [l, r]), f) in cs.iter_mut().zip(blocks.iter_mut()).zip(&mut factors) {
                c.targets(&[&mut **l, &mut **r], None, start..end, &mut f[..m]);
            }
            let start_y: [f64; G] = std::array::from_fn(|g| cs[g].reduction_db);
            let f = &mut factors;
            // The lanes' values and coefficients are the closure's own, which the compiler
            // keeps in registers: a step never waits on memory.
            let y = simd::wide(
                #[inline(always)]
                move || {
                    let mut y = start_y;
                    // Frame i of every lane at once: the index reads G arrays.
                    #[allow(clippy::needless_range_loop)]
                    for i in 0..m {
                        for g in 0..G {
                            y[g] = step(attack[g], release[g], y[g], f[g][i]);
                            f[g][i] = y[g];
                        }
                    }
                    y
                },
            );
            for (((c, [l, r]), f), y) in cs
                .iter_mut()
                .zip(blocks.iter_mut())
                .zip(&mut factors)
                .zip(y)
            {
                c.reduction_db = y;
                c.apply(&mut [&mut **l, &mut **r], start..end, &mut f[..m]);
            }
            start = end;
        }
    }
}

impl Processor for Compressor {
    fn name(&self) -> &'static str {
        "compressor"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.rate = spec.sample_rate;
        self.ballistics =
            Ballistics::new(self.cfg.attack_ms, self.cfg.release_ms, spec.sample_rate);
        self.rms_coeff = one_pole(RMS_TIME_MS, spec.sample_rate);
        // Room for a stereo key even on a mono spec; key channels beyond this are not detected.
        self.mean_square = vec![0.0; spec.channels.max(2)];
        self.reset();
    }

    fn reset(&mut self) {
        self.reduction_db = 0.0;
        self.mean_square.fill(0.0);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        self.run(block, None);
    }

    fn batch(&mut self) -> Option<super::Batch<'_>> {
        Some(super::Batch::Compressor(self))
    }

    /// The key replaces the program as the detector input; the gain still applies to `block`.
    fn process_keyed(&mut self, block: &mut [&mut [f32]], key: &[&[f32]]) {
        self.run(block, Some(key));
    }

    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            ParamKey::ThresholdDb => {
                self.cfg.threshold_db = value;
                self.set_knee_start();
            }
            ParamKey::Ratio => self.cfg.ratio = value,
            ParamKey::MakeupDb => self.makeup_ramp.set(value),
            ParamKey::Mix => self.mix_ramp.set(value.clamp(0.0, 1.0)),
            ParamKey::KneeDb => {
                self.cfg.knee_db = value;
                self.set_knee_start();
            }
            // New time constants from the next frame on; the reduction itself carries over.
            ParamKey::AttackMs | ParamKey::ReleaseMs => {
                if param.key == ParamKey::AttackMs {
                    self.cfg.attack_ms = value;
                } else {
                    self.cfg.release_ms = value;
                }
                self.ballistics =
                    Ballistics::new(self.cfg.attack_ms, self.cfg.release_ms, self.rate);
            }
            _ => return false,
        }
        true
    }
}

/// Noise gate: stereo-linked, with hysteresis, hold and smooth opening and closing.
///
/// The level is a peak envelope of the loudest channel (instant attack, [`GATE_DETECTOR_MS`]
/// release). The gate opens when it reaches `threshold_db`; once the level falls below
/// `threshold_db - GATE_HYSTERESIS_DB` the gate stays open for `hold_ms`, then closes. The gain
/// moves between 1 (open) and `-range_db` (closed) as a one-pole in the linear domain, with
/// `attack_ms` (opening) and `release_ms` (closing) as 1 - 1/e time constants: closing is an
/// exponential amplitude decay (8.7 dB per `release_ms` until near the floor), never a step. The
/// gate starts closed.
#[derive(Debug, Clone)]
pub struct Gate {
    cfg: GateConfig,
    ballistics: Ballistics,
    detector_coeff: f64,
    open_level: f64,
    close_level: f64,
    /// Linear gain when closed.
    floor: f64,
    hold_frames: u64,
    env: f64,
    open: bool,
    hold_left: u64,
    gain: f64,
    /// Sample rate, Hz (for times moved by automation).
    rate: f64,
}

impl Gate {
    /// A gate for `cfg` (validated: threshold -100..0 dB, range 0..100 dB, attack 0.01..100 ms,
    /// hold 0..2000 ms, release 1..5000 ms).
    pub fn new(cfg: &GateConfig) -> Self {
        let floor = db_to_gain(-cfg.range_db.max(0.0));
        let mut g = Gate {
            cfg: cfg.clone(),
            ballistics: Ballistics::new(cfg.attack_ms, cfg.release_ms, DEFAULT_RATE),
            detector_coeff: 0.0,
            open_level: db_to_gain(cfg.threshold_db),
            close_level: db_to_gain(cfg.threshold_db - GATE_HYSTERESIS_DB),
            floor,
            hold_frames: 0,
            env: 0.0,
            open: false,
            hold_left: 0,
            gain: floor,
            rate: DEFAULT_RATE,
        };
        g.set_rate(DEFAULT_RATE);
        g
    }

    fn set_rate(&mut self, rate: f64) {
        self.rate = rate;
        self.ballistics = Ballistics::new(self.cfg.attack_ms, self.cfg.release_ms, rate);
        self.detector_coeff = one_pole(GATE_DETECTOR_MS, rate);
        self.hold_frames = (self.cfg.hold_ms.max(0.0) * rate / 1000.0).round() as u64;
    }

    /// Current gain in dB (0 open, `-range_db` closed), for a meter.
    pub fn gain_db(&self) -> f64 {
        20.0 * self.gain.log10()
    }
}

impl Processor for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.set_rate(spec.sample_rate);
        self.reset();
    }

    fn reset(&mut self) {
        self.env = 0.0;
        self.open = false;
        self.hold_left = 0;
        self.gain = self.floor;
    }

    /// Levels and times move from the next frame on; the gain carries over and moves toward
    /// its new target with the ballistics, so a moved range or threshold never steps.
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            ParamKey::ThresholdDb => {
                self.cfg.threshold_db = value;
                self.open_level = db_to_gain(value);
                self.close_level = db_to_gain(value - GATE_HYSTERESIS_DB);
                return true;
            }
            ParamKey::RangeDb => {
                self.cfg.range_db = value;
                self.floor = db_to_gain(-value.max(0.0));
                return true;
            }
            ParamKey::AttackMs => self.cfg.attack_ms = value,
            ParamKey::HoldMs => self.cfg.hold_ms = value,
            ParamKey::ReleaseMs => self.cfg.release_ms = value,
            _ => return false,
        }
        self.set_rate(self.rate);
        true
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let n = frames(block);
        for i in 0..n {
            let peak = block
                .iter()
                .fold(0.0, |m: f64, c| m.max(f64::from(c[i]).abs()));
            self.env = peak.max(self.detector_coeff * self.env);
            if self.env < STATE_FLOOR {
                self.env = 0.0;
            }
            if self.env >= self.open_level {
                self.open = true;
                self.hold_left = self.hold_frames;
            } else if self.open {
                if self.env >= self.close_level {
                    // Between the two thresholds an open gate stays open (hysteresis).
                    self.hold_left = self.hold_frames;
                } else if self.hold_left > 0 {
                    self.hold_left -= 1;
                } else {
                    self.open = false;
                }
            }
            let target = if self.open { 1.0 } else { self.floor };
            self.gain = self.ballistics.step(self.gain, target);
            for ch in block.iter_mut() {
                ch[i] = out(f64::from(ch[i]) * self.gain);
            }
        }
    }
}

/// Band-pass coefficients, Audio EQ Cookbook (R. Bristow-Johnson) "BPF, constant 0 dB peak
/// gain", normalised by a0. Private and minimal on purpose: the shared filters live in
/// `biquad.rs`. Its complement `1 - H` is exactly the cookbook notch (the numerators add up to
/// the shared denominator), which is what makes the de-esser's split lossless.
#[derive(Debug, Clone, Copy)]
struct BandPass {
    b0: f64,
    a1: f64,
    a2: f64,
}

impl BandPass {
    fn new(freq_hz: f64, q: f64, rate: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * freq_hz / rate;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        BandPass {
            b0: alpha / a0,
            a1: -2.0 * w0.cos() / a0,
            a2: (1.0 - alpha) / a0,
        }
    }
}

/// Per-channel de-esser state: transposed direct form II (b1 = 0, b2 = -b0), the band sample of
/// the current frame, and the band's mean square.
#[derive(Debug, Clone, Copy, Default)]
struct DeesserChannel {
    s1: f64,
    s2: f64,
    band: f64,
    mean_square: f64,
}

/// Split-band de-esser: only the band around `freq_hz` is turned down, and only while it is
/// louder than `threshold_db`.
///
/// A band-pass (Q = [`DEESSER_Q`]) splits each channel into `band` and `rest = x - band` (a
/// notch: the two sum back to the input exactly). The band's RMS level (one-pole,
/// [`DEESSER_RMS_MS`]; a sine of peak A reads A/√2) of the loudest channel sets a reduction that
/// pulls the band down to the threshold (an infinite ratio), at most `range_db`. The reduction is
/// smoothed in dB with [`DEESSER_ATTACK_MS`] / [`DEESSER_RELEASE_MS`] and applied as
/// `rest + g·band`; the overall response is then a dip no deeper than `range_db` centred on
/// `freq_hz`, and never a boost. Below the threshold the input passes bit for bit. An automated
/// `freq_hz` moves the band-pass geometrically in steps of [`GLIDE_STEP`] frames, its state
/// carried over (so `rest + band` stays the input exactly while it moves).
#[derive(Debug, Clone)]
pub struct Deesser {
    cfg: DeesserConfig,
    bp: BandPass,
    ballistics: Ballistics,
    rms_coeff: f64,
    /// Band mean square below which no reduction is due: skips the logarithm.
    quiet_ms: f64,
    reduction_db: f64,
    chans: Vec<DeesserChannel>,
    /// `freq_hz` under automation: the band-pass moves geometrically in steps of
    /// [`GLIDE_STEP`] frames.
    freq: Glide,
    /// Sample rate the band-pass is designed at.
    rate: f64,
}

impl Deesser {
    /// A de-esser for `cfg` (validated: freq 1000 Hz..Nyquist, threshold -80..0 dB, range
    /// 0..24 dB). The band centre is kept at or below 0.45 × the sample rate, where the cookbook
    /// band-pass still has its designed width.
    pub fn new(cfg: &DeesserConfig) -> Self {
        let mut d = Deesser {
            cfg: cfg.clone(),
            bp: BandPass::new(1000.0, DEESSER_Q, DEFAULT_RATE),
            ballistics: Ballistics::new(DEESSER_ATTACK_MS, DEESSER_RELEASE_MS, DEFAULT_RATE),
            rms_coeff: 0.0,
            quiet_ms: db_to_gain(cfg.threshold_db).powi(2),
            reduction_db: 0.0,
            chans: Vec::new(),
            freq: Glide::new(cfg.freq_hz),
            rate: DEFAULT_RATE,
        };
        d.set_rate(DEFAULT_RATE);
        d
    }

    fn set_rate(&mut self, rate: f64) {
        self.rate = rate;
        self.freq = Glide::new(self.cfg.freq_hz);
        self.bp = self.band_pass(self.cfg.freq_hz);
        self.ballistics = Ballistics::new(DEESSER_ATTACK_MS, DEESSER_RELEASE_MS, rate);
        self.rms_coeff = one_pole(DEESSER_RMS_MS, rate);
    }

    /// The sidechain band-pass centred on `freq_hz`, kept between 10 Hz and 0.45 × the rate.
    fn band_pass(&self, freq_hz: f64) -> BandPass {
        let f = freq_hz.clamp(10.0, 0.45 * self.rate.max(100.0));
        BandPass::new(f, DEESSER_Q, self.rate)
    }

    /// Current smoothed reduction of the band in dB (0 = none), for a meter.
    pub fn gain_reduction_db(&self) -> f64 {
        self.reduction_db
    }
}

impl Processor for Deesser {
    fn name(&self) -> &'static str {
        "deesser"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.set_rate(spec.sample_rate);
        self.chans = vec![DeesserChannel::default(); spec.channels];
        self.reset();
    }

    fn reset(&mut self) {
        self.reduction_db = 0.0;
        self.chans.fill(DeesserChannel::default());
    }

    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            // Per block: the reduction it sets is smoothed by the attack and release.
            ParamKey::ThresholdDb => {
                self.cfg.threshold_db = value;
                self.quiet_ms = db_to_gain(value).powi(2);
            }
            ParamKey::RangeDb => self.cfg.range_db = value,
            // Moves over the next block, in steps (the band's state carries over).
            ParamKey::FreqHz => {
                self.cfg.freq_hz = value;
                self.freq.set(value);
            }
            _ => return false,
        }
        true
    }

    /// Channels beyond `spec.channels` pass through unchanged.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let n = frames(block);
        let moving = self.freq.moving();
        let BandPass {
            mut b0,
            mut a1,
            mut a2,
        } = self.bp;
        let range = self.cfg.range_db.max(0.0);
        for i in 0..n {
            if moving && i % GLIDE_STEP == 0 {
                self.bp = self.band_pass(self.freq.at((i + GLIDE_STEP).min(n), n));
                BandPass { b0, a1, a2 } = self.bp;
            }
            let mut ms: f64 = 0.0;
            for (ch, st) in block.iter().zip(self.chans.iter_mut()) {
                let x = f64::from(ch[i]);
                let y = b0 * x + st.s1;
                st.s1 = -a1 * y + st.s2;
                st.s2 = -b0 * x - a2 * y;
                if st.s1.abs() < STATE_FLOOR {
                    st.s1 = 0.0;
                }
                if st.s2.abs() < STATE_FLOOR {
                    st.s2 = 0.0;
                }
                st.band = y;
                let y2 = y * y;
                st.mean_square = y2 + self.rms_coeff * (st.mean_square - y2);
                if st.mean_square < STATE_FLOOR {
                    st.mean_square = 0.0;
                }
                ms = ms.max(st.mean_square);
            }
            let target = if ms <= self.quiet_ms {
                0.0
            } else {
                // Half the dB of a mean square is the RMS level in dB.
                (0.5 * amp_to_db(ms) - self.cfg.threshold_db).min(range)
            };
            self.reduction_db = self.ballistics.step(self.reduction_db, target);
            if self.reduction_db > 0.0 {
                let g1 = fast_db_to_gain(-self.reduction_db) - 1.0;
                for (ch, st) in block.iter_mut().zip(&self.chans) {
                    // rest + g·band = x + (g - 1)·band.
                    ch[i] = out(f64::from(ch[i]) + g1 * st.band);
                }
            }
        }
        self.freq.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::gain_to_db;
    use crate::testkit::{assert_invariants, run, run_keyed, spec, test_signal};
    use std::f64::consts::PI;

    const RATE: f64 = 48_000.0;
    /// 1 - 1/e: the share of a step an exponential covers in one time constant.
    const ONE_TAU: f64 = 0.632_120_558_828_557_7;

    fn comp(threshold_db: f64, ratio: f64, knee_db: f64) -> CompressorConfig {
        CompressorConfig {
            threshold_db,
            ratio,
            knee_db,
            attack_ms: 10.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            detector: Detector::Peak,
            mix: 1.0,
            sidechain: None,
        }
    }

    /// An automated release takes effect at once: after a settled reduction, the silence that
    /// follows brings it down by 1/e in one release time, the moved one.
    #[test]
    fn an_automated_release_time_is_the_one_the_reduction_follows() {
        for (release_ms, moved) in [(100.0, None), (100.0, Some(1000.0)), (1000.0, Some(100.0))] {
            let mut c = Compressor::new(&CompressorConfig {
                attack_ms: 1.0,
                release_ms,
                ..comp(-20.0, 10.0, 0.0)
            });
            c.prepare(&spec(RATE));
            // Settle on a loud constant: 0.5 s at -6 dBFS.
            let loud = vec![0.5f32; (RATE * 0.5) as usize];
            run(&mut c, &[loud.clone(), loud], 4096);
            let settled = c.gain_reduction_db();
            assert!(settled > 10.0, "{settled}");
            if let Some(ms) = moved {
                assert!(c.set_param(ParamId::new(ParamKey::ReleaseMs), ms));
            }
            let follow = moved.unwrap_or(release_ms);
            // Silence for one of the release times in force: down to 1/e of the reduction.
            let quiet = vec![0.0f32; (RATE * follow / 1000.0) as usize];
            run(&mut c, &[quiet.clone(), quiet], 4096);
            let left = c.gain_reduction_db() / settled;
            assert!(
                (left - (1.0 - ONE_TAU)).abs() < 0.01,
                "release {release_ms} ms moved to {moved:?}: {left}"
            );
        }
    }

    /// An automated range moves a closed gate's floor: it settles on the new depth.
    #[test]
    fn an_automated_gate_range_moves_the_closed_floor() {
        let mut g = Gate::new(&gate_cfg());
        g.prepare(&spec(RATE));
        let quiet = vec![0.0f32; (RATE * 0.5) as usize];
        run(&mut g, &[quiet.clone(), quiet.clone()], 4096);
        assert!((g.gain_db() + 60.0).abs() < 0.01, "{}", g.gain_db());
        assert!(g.set_param(ParamId::new(ParamKey::RangeDb), 20.0));
        // Opening toward the shallower floor follows the attack (1 ms): settled within 50 ms.
        let short = vec![0.0f32; (RATE * 0.05) as usize];
        run(&mut g, &[short.clone(), short], 4096);
        assert!((g.gain_db() + 20.0).abs() < 0.01, "{}", g.gain_db());
        assert!(!g.set_param(ParamId::new(ParamKey::Ratio), 2.0));
    }

    fn gate_cfg() -> GateConfig {
        GateConfig {
            threshold_db: -40.0,
            range_db: 60.0,
            attack_ms: 1.0,
            hold_ms: 20.0,
            release_ms: 50.0,
        }
    }

    fn prepared<P: Processor>(mut p: P, rate: f64) -> P {
        p.prepare(&spec(rate));
        p
    }

    fn frames_of(ms: f64, rate: f64) -> usize {
        (ms * rate / 1000.0).round() as usize
    }

    /// Piecewise-constant signal: `(value, ms)` segments.
    fn steps(segments: &[(f32, f64)], rate: f64) -> Vec<f32> {
        let mut x = Vec::new();
        for &(v, ms) in segments {
            x.extend(std::iter::repeat_n(v, frames_of(ms, rate)));
        }
        x
    }

    fn sine(n: usize, rate: f64, freq: f64, amp: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / rate).sin()) as f32)
            .collect()
    }

    fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
        a.iter().zip(b).map(|(x, y)| x + y).collect()
    }

    /// Linear gain applied at each frame (output / input; the input must be non-zero).
    fn gains(out: &[f32], inp: &[f32]) -> Vec<f64> {
        out.iter()
            .zip(inp)
            .map(|(&y, &x)| f64::from(y) / f64::from(x))
            .collect()
    }

    /// Amplitude of the `freq` component over the last `m` frames of `x`, by correlation
    /// (`m` must span whole cycles of every tone present, so they are orthogonal).
    fn amplitude(x: &[f32], rate: f64, freq: f64, m: usize) -> f64 {
        let n = x.len();
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &y) in x.iter().enumerate().skip(n - m) {
            let ph = 2.0 * PI * freq * i as f64 / rate;
            s += f64::from(y) * ph.sin();
            c += f64::from(y) * ph.cos();
        }
        2.0 * (s * s + c * c).sqrt() / m as f64
    }

    /// Measured 1 - 1/e time constant in ms of a step response `curve` whose new input starts
    /// at frame `start` (frame `start + k` shows k + 1 steps), going from `from` to `to`;
    /// linear interpolation between the frames around the crossing.
    fn time_constant_ms(curve: &[f64], start: usize, from: f64, to: f64, rate: f64) -> f64 {
        let goal = from + (to - from) * ONE_TAU;
        let reached = |v: f64| if to > from { v >= goal } else { v <= goal };
        let k = curve[start..]
            .iter()
            .position(|&v| reached(v))
            .expect("never covered 1 - 1/e of the step");
        let prev = if k == 0 { from } else { curve[start + k - 1] };
        let frac = (goal - prev) / (curve[start + k] - prev);
        (k as f64 + frac) * 1000.0 / rate
    }

    #[test]
    fn static_curve_is_giannoulis_eq4() {
        // Hard knee, T = -20 dB, 4:1: (x - T)(1 - 1/R) above T, nothing below.
        let hard = comp(-20.0, 4.0, 0.0);
        for (x, want) in [
            (-60.0, 0.0),
            (-20.0, 0.0),
            (-19.0, -0.75),
            (-10.0, -7.5),
            (0.0, -15.0),
        ] {
            assert_eq!(static_gain_db(&hard, x), want, "hard knee at {x} dB");
        }
        // Soft knee W = 10 dB: the quadratic (1/R - 1)(x - T + W/2)² / 2W from -25 to -15 dB.
        let soft = comp(-20.0, 4.0, 10.0);
        for (x, want) in [
            (-40.0, 0.0),
            (-25.0, 0.0),
            (-22.0, -0.75 * 9.0 / 20.0),
            (-20.0, -0.75 * 25.0 / 20.0),
            (-17.0, -0.75 * 64.0 / 20.0),
            (-15.0, -3.75),
            (-10.0, -7.5),
            (6.0, -19.5),
        ] {
            let got = static_gain_db(&soft, x);
            assert!(
                (got - want).abs() < 1e-12,
                "soft knee at {x} dB: {got} vs {want}"
            );
        }
        // 1:1 never acts; 100:1 approaches a limiter.
        assert_eq!(static_gain_db(&comp(-30.0, 1.0, 6.0), 0.0), 0.0);
        assert!((static_gain_db(&comp(-30.0, 100.0, 0.0), 0.0) + 29.7).abs() < 1e-12);
        // The output level x + g(x) is continuous and non-decreasing for every shape, with the
        // slope 1/R above the knee.
        for &(r, w) in &[(1.5, 0.0), (2.0, 6.0), (4.0, 12.0), (100.0, 24.0)] {
            let cfg = comp(-24.0, r, w);
            let mut prev = -80.0;
            for i in 1..=8000 {
                let x = -80.0 + i as f64 * 0.01;
                let y = x + static_gain_db(&cfg, x);
                assert!(y >= prev - 1e-12 && y - prev < 0.0101, "R {r} W {w} at {x}");
                prev = y;
            }
            let slope = static_gain_db(&cfg, 0.0) - static_gain_db(&cfg, -1.0) + 1.0;
            assert!((slope - 1.0 / r).abs() < 1e-9);
        }
    }

    #[test]
    fn settled_reduction_equals_static_curve_peak_dc() {
        // (threshold, ratio, knee, DC level): above the knee, inside the soft knee, below it.
        for &(t, r, w, level) in &[
            (-20.0, 4.0, 0.0, 0.5f32),
            (-20.0, 4.0, 6.0, 0.5),
            (-30.0, 2.0, 12.0, 0.05),
            (-10.0, 8.0, 12.0, 0.5),
            (-6.0, 20.0, 24.0, 1.0),
            (-20.0, 3.0, 6.0, 0.01),
        ] {
            let cfg = comp(t, r, w);
            let mut c = prepared(Compressor::new(&cfg), RATE);
            let x = vec![level; RATE as usize];
            let y = run(&mut c, &[x.clone(), x.clone()], 512);
            let got = gain_to_db(f64::from(y[0][x.len() - 1]) / f64::from(level));
            let want = static_gain_db(&cfg, gain_to_db(f64::from(level)));
            println!(
                "peak DC T {t} R {r} W {w} at {:.2} dBFS: static {want:.4}, settled {got:.4}, error {:.1e} dB",
                gain_to_db(f64::from(level)),
                got - want
            );
            assert!((got - want).abs() < 0.01, "{got} vs {want}");
            assert!((c.gain_reduction_db() + want).abs() < 1e-9, "meter");
            assert!(y[0] == y[1]);
        }
    }

    #[test]
    fn settled_reduction_equals_static_curve_rms_sine() {
        for &(freq, amp, t, r, w) in &[
            (1000.0, 1.0, -20.0, 4.0, 6.0),
            (1000.0, 0.1, -24.0, 3.0, 12.0),
            (200.0, 0.5, -18.0, 2.0, 0.0),
        ] {
            let cfg = CompressorConfig {
                detector: Detector::Rms,
                ..comp(t, r, w)
            };
            let mut c = prepared(Compressor::new(&cfg), RATE);
            let x = sine(RATE as usize, RATE, freq, amp);
            let y = run(&mut c, &[x.clone(), x], 4096);
            // 0.2 s is a whole number of cycles of both test tones.
            let got = gain_to_db(amplitude(&y[0], RATE, freq, 9600) / amp);
            let rms_db = gain_to_db(amp / 2f64.sqrt());
            let want = static_gain_db(&cfg, rms_db);
            println!(
                "RMS {freq} Hz at {rms_db:.2} dB, T {t} R {r} W {w}: static {want:.4}, settled {got:.4}, error {:+.4} dB",
                got - want
            );
            assert!((got - want).abs() < 0.1, "{got} vs {want}");
        }
    }

    #[test]
    fn attack_and_release_are_one_minus_one_over_e_time_constants() {
        for &(rate, attack, release) in &[
            (48_000.0, 10.0, 100.0),
            (44_100.0, 1.0, 50.0),
            (96_000.0, 30.0, 400.0),
        ] {
            let cfg = CompressorConfig {
                attack_ms: attack,
                release_ms: release,
                ..comp(-20.0, 4.0, 0.0)
            };
            // -40 dB (no reduction), 0 dB (15 dB of reduction), back to -40 dB.
            let x = steps(
                &[(0.01, 50.0), (1.0, 25.0 * attack), (0.01, 15.0 * release)],
                rate,
            );
            let mut c = prepared(Compressor::new(&cfg), rate);
            let y = run(&mut c, &[x.clone(), x.clone()], 256);
            let gr: Vec<f64> = gains(&y[0], &x).iter().map(|&g| -gain_to_db(g)).collect();
            let up = frames_of(50.0, rate);
            let down = up + frames_of(25.0 * attack, rate);
            let full = -static_gain_db(&cfg, 0.0);
            assert!((gr[down - 1] - full).abs() < 1e-6);
            let ta = time_constant_ms(&gr, up, 0.0, full, rate);
            let tr = time_constant_ms(&gr, down, gr[down - 1], 0.0, rate);
            println!(
                "{rate} Hz: attack {attack} ms measured {ta:.6}, release {release} ms measured {tr:.6}"
            );
            assert!((ta / attack - 1.0).abs() < 0.02, "attack {ta} vs {attack}");
            assert!(
                (tr / release - 1.0).abs() < 0.02,
                "release {tr} vs {release}"
            );
            // After one time constant the reduction covered 63 % of the way.
            let k = up + frames_of(attack, rate) - 1;
            assert!((gr[k] / full - ONE_TAU).abs() < 0.02, "{}", gr[k] / full);
            assert!(gr[x.len() - 1] < 1e-4, "released fully");
        }
    }

    #[test]
    fn makeup_adds_exactly_makeup_db() {
        let x = test_signal(RATE, 1.0, 0.8);
        let base = CompressorConfig {
            knee_db: 6.0,
            ..comp(-24.0, 3.0, 6.0)
        };
        let mut plain = prepared(Compressor::new(&base), RATE);
        let cfg = CompressorConfig {
            makeup_db: 6.5,
            ..base.clone()
        };
        let mut made = prepared(Compressor::new(&cfg), RATE);
        let a = run(&mut plain, &x, 512);
        let b = run(&mut made, &x, 512);
        let want = db_to_gain(6.5);
        let mut worst: f64 = 0.0;
        for (p, q) in a.iter().flatten().zip(b.iter().flatten()) {
            if p.abs() > 1e-3 {
                worst = worst.max((f64::from(*q) / f64::from(*p) / want - 1.0).abs());
            }
        }
        println!("makeup 6.5 dB: worst relative error {worst:.2e}");
        assert!(worst < 1e-6);
        // Below the knee the gain is the makeup alone.
        let quiet = vec![0.001f32; 1000];
        let mut fresh = prepared(Compressor::new(&cfg), RATE);
        let y = run(&mut fresh, &[quiet.clone(), quiet], 64);
        assert!((f64::from(y[1][999]) / 0.001 / want - 1.0).abs() < 1e-6);
    }

    #[test]
    fn mix_zero_is_dry_and_half_is_the_average() {
        let x = test_signal(RATE, 1.0, 0.8);
        let wet = CompressorConfig {
            makeup_db: 4.0,
            ..comp(-30.0, 8.0, 6.0)
        };
        let dry_cfg = CompressorConfig {
            mix: 0.0,
            ..wet.clone()
        };
        let half_cfg = CompressorConfig {
            mix: 0.5,
            ..wet.clone()
        };
        let dry = run(&mut prepared(Compressor::new(&dry_cfg), RATE), &x, 333);
        assert!(dry == x, "mix = 0 must be the dry signal bit for bit");
        let full = run(&mut prepared(Compressor::new(&wet), RATE), &x, 333);
        let half = run(&mut prepared(Compressor::new(&half_cfg), RATE), &x, 333);
        let mut worst: f64 = 0.0;
        for ((d, f), h) in x
            .iter()
            .flatten()
            .zip(full.iter().flatten())
            .zip(half.iter().flatten())
        {
            let avg = 0.5 * (f64::from(*d) + f64::from(*f));
            worst = worst.max((f64::from(*h) - avg).abs());
        }
        println!("mix 0.5 vs mean of dry and wet: worst error {worst:.2e}");
        assert!(worst < 2e-7);
        assert!(full != x, "the wet path did compress");
    }

    #[test]
    fn stereo_link_applies_the_loud_channels_gain_to_both() {
        for detector in [Detector::Peak, Detector::Rms] {
            let cfg = CompressorConfig {
                detector,
                ..comp(-20.0, 4.0, 6.0)
            };
            let n = RATE as usize;
            let loud = sine(n, RATE, 500.0, 0.9);
            let quiet = vec![0.01f32; n];
            for swap in [false, true] {
                let input = if swap {
                    vec![quiet.clone(), loud.clone()]
                } else {
                    vec![loud.clone(), quiet.clone()]
                };
                let (li, qi) = if swap { (1, 0) } else { (0, 1) };
                let y = run(&mut prepared(Compressor::new(&cfg), RATE), &input, 100);
                let gq = gains(&y[qi], &input[qi]);
                let gl = gains(&y[li], &input[li]);
                for (i, (a, b)) in gq.iter().zip(&gl).enumerate() {
                    if input[li][i].abs() > 1e-3 {
                        assert!((a / b - 1.0).abs() < 1e-6, "frame {i}: {a} vs {b}");
                    }
                }
                // The quiet channel alone would pass untouched; linked, it is turned down.
                assert!(
                    gain_to_db(gq[n - 1]) < -5.0,
                    "{detector:?}: {}",
                    gain_to_db(gq[n - 1])
                );
            }
        }
    }

    #[test]
    fn sidechain_key_replaces_the_detector_input() {
        let cfg = comp(-20.0, 4.0, 6.0);
        let n = RATE as usize;
        let program = vec![vec![0.01f32; n]; 2];
        let key = vec![vec![1.0f32; n]; 2];
        // Unkeyed, the -40 dB program is below the knee: untouched, bit for bit.
        let plain = run(&mut prepared(Compressor::new(&cfg), RATE), &program, 512);
        assert!(plain == program);
        // Keyed by a 0 dB key it is turned down by the static curve at the key's level.
        let mut c = prepared(Compressor::new(&cfg), RATE);
        let keyed = run_keyed(&mut c, &program, Some(&key), 512);
        let got = gain_to_db(f64::from(keyed[1][n - 1]) / 0.01);
        let want = static_gain_db(&cfg, 0.0);
        println!("keyed by 0 dB: settled {got:.4} dB, static {want:.4} dB");
        assert!((got - want).abs() < 0.01);
        // A mono key drives a stereo program the same way.
        let mono = vec![vec![1.0f32; n]];
        let keyed1 = run_keyed(
            &mut prepared(Compressor::new(&cfg), RATE),
            &program,
            Some(&mono),
            512,
        );
        assert!(keyed == keyed1);

        // Kick ducks the bass: a 60 Hz bass keyed by 50 ms kick bursts every 500 ms.
        let fast = CompressorConfig {
            attack_ms: 2.0,
            release_ms: 80.0,
            ..comp(-24.0, 8.0, 6.0)
        };
        let bass = sine(n, RATE, 60.0, 0.03);
        let burst = frames_of(50.0, RATE);
        let period = frames_of(500.0, RATE);
        let kick: Vec<f32> = (0..n)
            .map(|i| if i % period < burst { 0.9 } else { 0.0 })
            .collect();
        let mut c = prepared(Compressor::new(&fast), RATE);
        let input = vec![bass.clone(), bass.clone()];
        let ducked = run_keyed(&mut c, &input, Some(&[kick.clone(), kick]), 256);
        let undisturbed = run(&mut prepared(Compressor::new(&fast), RATE), &input, 256);
        assert!(
            undisturbed == input,
            "the -30 dB bass alone is below the knee: untouched"
        );
        let g = gains(&ducked[0], &bass);
        // End of the second burst: fully ducked; end of its gap: recovered.
        let in_burst = period + burst - 1;
        let before_next = 2 * period - 1;
        let want = static_gain_db(&fast, gain_to_db(0.9));
        println!(
            "kick ducking: {:.2} dB at a burst's end (static {want:.2}), {:.3} dB before the next",
            gain_to_db(g[in_burst].abs()),
            gain_to_db(g[before_next].abs())
        );
        assert!((gain_to_db(g[in_burst].abs()) - want).abs() < 0.1);
        assert!(gain_to_db(g[before_next].abs()) > -0.1);
    }

    #[test]
    fn gate_attenuates_by_range_below_threshold_and_is_unity_above() {
        let cfg = gate_cfg();
        // Never opened: -50 dB stays below the -40 dB threshold; the gate rests closed.
        let low = vec![0.003_162_277_7f32; RATE as usize];
        let y = run(
            &mut prepared(Gate::new(&cfg), RATE),
            &[low.clone(), low.clone()],
            512,
        );
        let closed = gain_to_db(f64::from(y[0][low.len() - 1]) / f64::from(low[0]));
        // Open at -20 dB, then -50 dB: after hold and release it is down by range_db again.
        let x = steps(&[(0.1, 300.0), (0.003_162_277_7, 1000.0)], RATE);
        let mut g = prepared(Gate::new(&cfg), RATE);
        let y = run(&mut g, &[x.clone(), x.clone()], 512);
        let gn = gains(&y[0], &x);
        let opened = gain_to_db(gn[frames_of(300.0, RATE) - 1]);
        let reclosed = gain_to_db(gn[x.len() - 1]);
        println!("gate: closed {closed:.4} dB, open {opened:.6} dB, closed again {reclosed:.4} dB");
        assert!((closed + 60.0).abs() < 1e-3);
        assert!(opened.abs() < 1e-6);
        assert!((reclosed + 60.0).abs() < 0.01);
        assert!((g.gain_db() + 60.0).abs() < 0.01, "meter");
        // Hysteresis: 1.5 dB under the threshold keeps an open gate open and a closed one shut.
        let between = 0.01f32 * db_to_gain(-1.5) as f32;
        let x = steps(&[(0.1, 100.0), (between, 2000.0)], RATE);
        let y = run(
            &mut prepared(Gate::new(&cfg), RATE),
            &[x.clone(), x.clone()],
            512,
        );
        assert!(gains(&y[0], &x)[x.len() - 1] == 1.0, "stays open");
        let x = vec![between; RATE as usize];
        let y = run(
            &mut prepared(Gate::new(&cfg), RATE),
            &[x.clone(), x.clone()],
            512,
        );
        assert!(
            gain_to_db(gains(&y[0], &x)[x.len() - 1]) < -59.99,
            "stays closed"
        );
    }

    #[test]
    fn gate_time_constants_and_hold() {
        for &(rate, attack, hold, release) in &[
            (48_000.0, 1.0, 20.0, 50.0),
            (48_000.0, 5.0, 0.0, 200.0),
            (44_100.0, 0.5, 150.0, 20.0),
        ] {
            let cfg = GateConfig {
                attack_ms: attack,
                hold_ms: hold,
                release_ms: release,
                ..gate_cfg()
            };
            // -80 dB (closed), -20 dB (open), -80 dB: the gain is out / in throughout.
            let (low, high) = (1e-4f32, 0.1f32);
            let open_ms = 20.0 * attack + 50.0;
            let x = steps(
                &[
                    (low, 50.0),
                    (high, open_ms),
                    (low, 500.0 + hold + 15.0 * release),
                ],
                rate,
            );
            let y = run(
                &mut prepared(Gate::new(&cfg), rate),
                &[x.clone(), x.clone()],
                256,
            );
            let g = gains(&y[1], &x);
            let floor = db_to_gain(-cfg.range_db);
            let up = frames_of(50.0, rate);
            let drop = up + frames_of(open_ms, rate);
            // (Gains are measured from f32 samples: about 1e-7 of rounding.)
            assert!((g[up - 1] / floor - 1.0).abs() < 1e-6 && (g[drop - 1] - 1.0).abs() < 1e-6);
            let ta = time_constant_ms(&g, up, floor, 1.0, rate);
            // The gate starts to close once the detector (instant attack, GATE_DETECTOR_MS
            // release) falls below the close level, plus the hold.
            let first_fall = drop + g[drop..].iter().position(|&v| v < 1.0).unwrap();
            let close = db_to_gain(cfg.threshold_db - GATE_HYSTERESIS_DB);
            let detect_ms = GATE_DETECTOR_MS * (f64::from(high) / close).ln();
            let held_ms = (first_fall - drop) as f64 * 1000.0 / rate - detect_ms;
            let tr = time_constant_ms(&g, first_fall, 1.0, floor, rate);
            println!(
                "gate {rate} Hz: attack {attack} ms measured {ta:.4}; hold {hold} ms measured {held_ms:.3} \
                 (after {detect_ms:.2} ms of detector decay); release {release} ms measured {tr:.4}"
            );
            assert!((ta / attack - 1.0).abs() < 0.02, "attack {ta}");
            assert!((tr / release - 1.0).abs() < 0.02, "release {tr}");
            assert!((held_ms - hold).abs() < 2000.0 / rate, "hold {held_ms}");
            assert!(
                (g[x.len() - 1] / floor - 1.0).abs() < 1e-3,
                "closed at the end"
            );
            // No clicks: the gain moves by at most one attack or release step per frame.
            let max_step = g
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(0.0, f64::max);
            let bound = (1.0 - one_pole(attack.min(release), rate)) * (1.0 - floor) + 1e-6;
            assert!(max_step <= bound, "step {max_step} > {bound}");
        }
    }

    #[test]
    fn gate_is_stereo_linked() {
        let n = RATE as usize;
        let loud = sine(n, RATE, 110.0, 0.5);
        let quiet = vec![1e-4f32; n];
        let y = run(
            &mut prepared(Gate::new(&gate_cfg()), RATE),
            &[quiet.clone(), loud],
            512,
        );
        // The quiet left channel is opened by the loud right one.
        assert!(gains(&y[0], &quiet)[n - 1] == 1.0);
    }

    /// Loud noise through a de-esser whose band is swept 2 kHz..12 kHz and back in 1.2 s (log),
    /// updated every `every` frames (see [`crate::testkit::run_automated`]).
    fn deesser_swept(x: &[Vec<f32>], every: usize, jump: bool) -> Vec<f32> {
        let cfg = DeesserConfig {
            freq_hz: 2000.0,
            threshold_db: -40.0,
            range_db: 12.0,
        };
        let f = |i: usize| {
            let u = 1.0 - (1.0 - i as f64 / (0.6 * RATE)).abs();
            2000.0 * 6f64.powf(u.max(0.0))
        };
        let mut d = prepared(Deesser::new(&cfg), RATE);
        let y = crate::testkit::run_automated(
            &mut d,
            x,
            ParamId::new(ParamKey::FreqHz),
            &f,
            every,
            jump,
        );
        y.concat()
    }

    /// The de-esser's band moves with its envelope: finite, and what it takes away is within
    /// -40 dB of what the same sweep takes away with the band-pass recomputed on every sample;
    /// in jumps every 4096 frames it is not, so the measure can fail.
    #[test]
    fn a_swept_deesser_band_follows_per_sample_coefficients() {
        let n = (1.2 * RATE) as usize;
        let x = vec![
            crate::testkit::white(n, 5, 0.5),
            crate::testkit::white(n, 6, 0.5),
        ];
        let flat = x.concat();
        let removed = |y: &[f32]| -> Vec<f32> { y.iter().zip(&flat).map(|(a, b)| a - b).collect() };
        let y = deesser_swept(&x, 32, false);
        assert!(y.iter().all(|v| v.is_finite()));
        let ideal = removed(&deesser_swept(&x, 1, false));
        // The reduction is real: what it removes is within 20 dB of the signal (measured
        // -8.9 dB), so the comparisons below are of a band that works.
        let cut = crate::testkit::difference_db(&y, &flat);
        let fine = crate::testkit::difference_db(&removed(&y), &ideal);
        let jumps = crate::testkit::difference_db(&removed(&deesser_swept(&x, 32, true)), &ideal);
        let coarse =
            crate::testkit::difference_db(&removed(&deesser_swept(&x, 4096, true)), &ideal);
        println!(
            "de-esser sweep: removes {cut:.1} dB of the signal; vs per-sample coefficients \
             {fine:.1} dB (jumps every 32 frames {jumps:.1} dB, every 4096 {coarse:.1} dB)"
        );
        assert!(cut > -20.0, "{cut}");
        assert!(fine < -40.0, "{fine}");
        assert!(coarse > -40.0 && jumps > fine, "{coarse} {jumps}");
    }

    /// Magnitude of `1 + (g - 1)·H(e^jw)` for the de-esser's band-pass H: the analytic
    /// response of the split band with the band at linear gain `g`.
    fn deesser_response_db(freq_hz: f64, rate: f64, g: f64, f: f64) -> f64 {
        let BandPass { b0, a1, a2 } = BandPass::new(freq_hz, DEESSER_Q, rate);
        let w = 2.0 * PI * f / rate;
        let (c1, s1, c2, s2) = (w.cos(), -w.sin(), (2.0 * w).cos(), -(2.0 * w).sin());
        // H = b0 (1 - z^-2) / (1 + a1 z^-1 + a2 z^-2), z^-k = cos(kw) - j sin(kw).
        let (nr, ni) = (b0 * (1.0 - c2), -b0 * s2);
        let (dr, di) = (1.0 + a1 * c1 + a2 * c2, a1 * s1 + a2 * s2);
        let den = dr * dr + di * di;
        let (hr, hi) = ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den);
        let (tr, ti) = (1.0 + (g - 1.0) * hr, (g - 1.0) * hi);
        10.0 * (tr * tr + ti * ti).log10()
    }

    #[test]
    fn deesser_turns_down_only_the_sibilant_band() {
        let n = RATE as usize;
        // 0.2 s spans whole cycles of 7 kHz and 300 Hz, so the two correlations are exact.
        let m = 9600;
        let ess = sine(n, RATE, 7000.0, 0.1); // -23.01 dB RMS
        let low = sine(n, RATE, 300.0, 0.3);
        let both = add(&ess, &low);
        let run_d = |cfg: &DeesserConfig, x: &[f32]| {
            let mut d = prepared(Deesser::new(cfg), RATE);
            let y = run(&mut d, &[x.to_vec(), x.to_vec()], 512);
            (y, d.gain_reduction_db())
        };
        // 7 dB over the threshold with a 6 dB range: the band is cut by the full range, the
        // 300 Hz tone passes.
        let cfg = DeesserConfig {
            freq_hz: 7000.0,
            threshold_db: -30.0,
            range_db: 6.0,
        };
        let (y, meter) = run_d(&cfg, &both);
        let cut = gain_to_db(amplitude(&y[0], RATE, 7000.0, m) / 0.1);
        let pass = gain_to_db(amplitude(&y[0], RATE, 300.0, m) / 0.3);
        let want = deesser_response_db(7000.0, RATE, db_to_gain(-6.0), 300.0);
        println!(
            "de-esser 7 kHz, 7 dB over, range 6: 7 kHz {cut:.4} dB, 300 Hz {pass:.4} dB \
             (analytic {want:.4}), meter {meter:.4} dB"
        );
        assert!((cut + 6.0).abs() < 0.05, "{cut}");
        assert!(pass.abs() < 0.5 && (pass - want).abs() < 0.01, "{pass}");
        // 3 dB over, 6 dB of range: the band is pulled down to the threshold.
        let cfg3 = DeesserConfig {
            threshold_db: gain_to_db(0.1 / 2f64.sqrt()) - 3.0,
            ..cfg.clone()
        };
        let (y, _) = run_d(&cfg3, &ess);
        let cut3 = gain_to_db(amplitude(&y[0], RATE, 7000.0, m) / 0.1);
        println!("de-esser 3 dB over: 7 kHz {cut3:.4} dB");
        assert!((cut3 + 3.0).abs() < 0.1, "{cut3}");
        // Below the threshold both tones pass bit for bit.
        let quiet = DeesserConfig {
            threshold_db: -20.0,
            ..cfg.clone()
        };
        let (y, meter) = run_d(&quiet, &both);
        assert!(y[0] == both && meter == 0.0);
        // The usual 6.5 kHz setting still catches a 7 kHz "s", a little less than at its centre.
        let (y, _) = run_d(
            &DeesserConfig {
                freq_hz: 6500.0,
                ..cfg.clone()
            },
            &both,
        );
        let off = gain_to_db(amplitude(&y[0], RATE, 7000.0, m) / 0.1);
        let want_off = deesser_response_db(6500.0, RATE, db_to_gain(-6.0), 7000.0);
        println!("de-esser at 6.5 kHz: 7 kHz {off:.4} dB (analytic {want_off:.4} dB)");
        assert!((off - want_off).abs() < 0.05 && off < -5.0);
    }

    #[test]
    fn deesser_response_is_the_analytic_split_band_dip() {
        // Driven hard (threshold -80 dB), the reduction sits at range_db for every test tone,
        // so the steady response is exactly |1 + (g - 1)·H|: a dip centred on freq_hz, no boost.
        let cfg = DeesserConfig {
            freq_hz: 6500.0,
            threshold_db: -80.0,
            range_db: 12.0,
        };
        let g = db_to_gain(-12.0);
        for f in [
            500.0, 1000.0, 3000.0, 5000.0, 6500.0, 9000.0, 14000.0, 20000.0,
        ] {
            let mut d = prepared(Deesser::new(&cfg), RATE);
            let got = crate::testkit::sine_gain_db(&mut d, RATE, f, 0.5);
            let want = deesser_response_db(6500.0, RATE, g, f);
            println!("de-esser dip at {f} Hz: {got:.4} dB, analytic {want:.4} dB");
            assert!(
                (got - want).abs() < 0.02 && got < 0.001,
                "{f} Hz: {got} vs {want}"
            );
        }
    }

    #[test]
    fn deesser_ballistics() {
        // A 7 kHz burst 12 dB over the threshold with range 24: the reduction target is 12 dB.
        let cfg = DeesserConfig {
            freq_hz: 7000.0,
            threshold_db: gain_to_db(0.1 / 2f64.sqrt()) - 12.0,
            range_db: 24.0,
        };
        let mut d = prepared(Deesser::new(&cfg), RATE);
        let ess = sine(frames_of(200.0, RATE), RATE, 7000.0, 0.1);
        let quiet = vec![0.0f32; frames_of(300.0, RATE)];
        let mut gr = Vec::new();
        for chunk in ess.chunks(1).chain(quiet.chunks(1)) {
            let mut c = chunk.to_vec();
            d.process(&mut [&mut c]);
            gr.push(d.gain_reduction_db());
        }
        let k = |ms: f64| gr[frames_of(ms, RATE)];
        let to_90 = gr.iter().position(|&r| r >= 0.9 * 12.0).unwrap() as f64 * 1000.0 / RATE;
        let rel = time_constant_ms(&gr, ess.len(), gr[ess.len() - 1], 0.0, RATE);
        println!(
            "de-esser: 90 % of a 12 dB cut after {to_90:.2} ms; {:.3} dB at 200 ms; \
             release measured {rel:.3} ms; {:.4} dB left 300 ms later",
            k(199.0),
            gr[gr.len() - 1]
        );
        assert!(to_90 < 10.0 && (k(199.0) - 12.0).abs() < 0.1);
        // After the burst the band level falls within a few ms; the 30 ms release dominates.
        assert!((rel / DEESSER_RELEASE_MS - 1.0).abs() < 0.15, "{rel}");
    }

    #[test]
    fn contract_invariants() {
        let c = CompressorConfig {
            attack_ms: 5.0,
            release_ms: 80.0,
            makeup_db: 3.0,
            ..comp(-24.0, 4.0, 6.0)
        };
        let rms = CompressorConfig {
            detector: Detector::Rms,
            mix: 0.5,
            ..c.clone()
        };
        let gate = GateConfig {
            threshold_db: -20.0,
            ..gate_cfg()
        };
        let de = DeesserConfig {
            freq_hz: 6500.0,
            threshold_db: -40.0,
            range_db: 6.0,
        };
        for rate in [44_100.0, 48_000.0] {
            assert_invariants(&|| Box::new(Compressor::new(&c)), rate, 0.0);
            assert_invariants(&|| Box::new(Compressor::new(&rms)), rate, 0.0);
            assert_invariants(&|| Box::new(Gate::new(&gate)), rate, 0.0);
            assert_invariants(&|| Box::new(Deesser::new(&de)), rate, 0.0);
        }
    }

    #[test]
    fn extreme_settings_stay_finite_and_never_panic() {
        let mut procs: Vec<Box<dyn Processor>> = Vec::new();
        for (t, r, w, a, rel, mk, mix) in [
            (-80.0, 100.0, 24.0, 0.01, 5000.0, 24.0, 1.0),
            (0.0, 1.0, 0.0, 500.0, 1.0, -24.0, 0.0),
            (-40.0, 100.0, 0.0, 0.01, 1.0, 24.0, 0.3),
        ] {
            for detector in [Detector::Peak, Detector::Rms] {
                procs.push(Box::new(Compressor::new(&CompressorConfig {
                    threshold_db: t,
                    ratio: r,
                    knee_db: w,
                    attack_ms: a,
                    release_ms: rel,
                    makeup_db: mk,
                    detector,
                    mix,
                    sidechain: Some(0),
                })));
            }
        }
        for (t, range, a, h, rel) in [
            (-100.0, 100.0, 0.01, 0.0, 1.0),
            (0.0, 0.0, 100.0, 2000.0, 5000.0),
            (-60.0, 100.0, 0.01, 2000.0, 1.0),
        ] {
            procs.push(Box::new(Gate::new(&GateConfig {
                threshold_db: t,
                range_db: range,
                attack_ms: a,
                hold_ms: h,
                release_ms: rel,
            })));
        }
        for (f, t, range) in [
            (1000.0, -80.0, 24.0),
            (95_000.0, 0.0, 0.0),
            (23_999.0, -80.0, 24.0),
        ] {
            procs.push(Box::new(Deesser::new(&DeesserConfig {
                freq_hz: f,
                threshold_db: t,
                range_db: range,
            })));
        }
        for p in &mut procs {
            // Unprepared, and with empty or odd blocks: no panic.
            p.process(&mut []);
            p.process(&mut [&mut [0.5f32; 3][..]]);
            p.process_keyed(&mut [&mut [0.5f32; 3][..], &mut [0.1f32; 3][..]], &[]);
            p.process_keyed(&mut [&mut [0.5f32; 3][..]], &[&[1.0f32; 2][..]]);
            for rate in [8000.0, 192_000.0] {
                p.prepare(&spec(rate));
                let hot = test_signal(rate, 0.5, 4.0);
                let y = run_keyed(p.as_mut(), &hot, Some(&hot), 1024);
                let z = run(p.as_mut(), &hot, 100);
                assert!(
                    y.iter().chain(&z).flatten().all(|v| v.is_finite()),
                    "{} at {rate}",
                    p.name()
                );
            }
        }
    }

    /// The compressor's block pipeline (detection, gain curve, ballistics and gain each a pass
    /// over a block, the curve and the gain skipping eight frames at a time where nothing is
    /// over the knee or nothing is reduced) gives, bit for bit, the frame-by-frame statement
    /// of its definition, over a signal that rises through the knee, holds, releases fully
    /// and falls silent, with a parallel mix and blocks of any length.
    #[test]
    fn blocks_match_the_frame_by_frame_definition() {
        for (knee, mix) in [(0.0, 1.0), (6.0, 0.7)] {
            let cfg = CompressorConfig {
                threshold_db: -20.0,
                ratio: 4.0,
                knee_db: knee,
                attack_ms: 2.0,
                release_ms: 40.0,
                makeup_db: 1.5,
                detector: Detector::Peak,
                mix,
                sidechain: None,
            };
            let len = 40_000;
            let x: Vec<f32> = (0..len)
                .map(|i| {
                    let t = i as f64 / RATE;
                    let env = match i {
                        0..10_000 => 0.02 + t * 3.0,
                        10_000..18_000 => 0.05,
                        18_000..30_000 => 0.002,
                        _ => 0.0,
                    };
                    (env.min(1.0) * (2.0 * PI * 330.0 * t).sin()) as f32
                })
                .collect();
            let y: Vec<f32> = x.iter().map(|v| -0.8 * v).collect();
            // The definition, one frame at a time.
            let mut reference = Compressor::new(&cfg);
            reference.prepare(&spec(RATE));
            let b = reference.ballistics;
            let mut r = 0.0;
            let mut want = [x.clone(), y.clone()];
            for i in 0..len {
                let level = f64::from(x[i].abs().max(y[i].abs()));
                let target = if level < reference.knee_start {
                    0.0
                } else {
                    -static_gain_db(&cfg, amp_to_db(level))
                };
                r = b.step(r, target);
                // The gain factor in single precision: e^x of the gain in nepers.
                let wet = exp_f32(((cfg.makeup_db - r) / DB_PER_NEPER) as f32);
                let f = mix as f32 * wet + (1.0 - mix as f32);
                for ch in &mut want {
                    let v = ch[i] * f;
                    ch[i] = if v.is_subnormal() { 0.0 } else { v };
                }
            }
            for block in [1usize, 13, 1000, 8192] {
                let mut c = Compressor::new(&cfg);
                c.prepare(&spec(RATE));
                let mut got = [x.clone(), y.clone()];
                let [l, rr] = &mut got;
                for (a, b) in l.chunks_mut(block).zip(rr.chunks_mut(block)) {
                    c.process(&mut [a, b]);
                }
                assert!(
                    got.iter()
                        .flatten()
                        .zip(want.iter().flatten())
                        .all(|(g, w)| g.to_bits() == w.to_bits()),
                    "knee {knee}, mix {mix}, block {block}"
                );
            }
        }
    }

    /// Compressors run side by side give every compressor, bit for bit, what it gives alone:
    /// groups of 1 to 6 (two passes past [`GROUP`]), each with its own settings (peak and RMS
    /// detectors, parallel mixes, hard and soft knees), in blocks of any length, over signals
    /// that swell, hold and fall silent, with automated makeup ramping on one of them.
    #[test]
    fn groups_match_compressors_alone() {
        let cfg = |g: usize| CompressorConfig {
            threshold_db: -30.0 + 3.0 * g as f64,
            ratio: 2.0 + g as f64,
            knee_db: [0.0, 6.0, 12.0][g % 3],
            attack_ms: 1.0 + 4.0 * g as f64,
            release_ms: 50.0 + 40.0 * g as f64,
            makeup_db: g as f64 - 2.0,
            detector: if g == 4 {
                Detector::Rms
            } else {
                Detector::Peak
            },
            mix: if g == 2 { 0.6 } else { 1.0 },
            sidechain: None,
        };
        let len = 30_000;
        let signal = |g: usize, c: usize| -> Vec<f32> {
            (0..len)
                .map(|i| {
                    let t = i as f64 / RATE;
                    let env = if i < 20_000 {
                        (t * (3.0 + g as f64)).min(1.0)
                    } else {
                        0.0
                    };
                    (env * (2.0 * PI * (220.0 + 90.0 * (g + c) as f64) * t).sin()) as f32
                })
                .collect()
        };
        for group in 1..=6 {
            for block in [1usize, 300, 1024, 8192] {
                let mut alone: Vec<Compressor> = (0..group)
                    .map(|g| {
                        let mut c = Compressor::new(&cfg(g));
                        c.prepare(&spec(RATE));
                        c
                    })
                    .collect();
                let mut grouped = alone.clone();
                let mut want: Vec<[Vec<f32>; 2]> =
                    (0..group).map(|g| [signal(g, 0), signal(g, 1)]).collect();
                let mut got = want.clone();
                let mut at = 0;
                while at < len {
                    let m = block.min(len - at);
                    if at == 9600 && group > 1 {
                        // Makeup moving on the second compressor (ramped across its next block).
                        let key = ParamId::new(ParamKey::MakeupDb);
                        assert!(alone[1].set_param(key, 4.0));
                        assert!(grouped[1].set_param(key, 4.0));
                    }
                    for (c, [l, r]) in alone.iter_mut().zip(&mut want) {
                        c.process(&mut [&mut l[at..at + m], &mut r[at..at + m]]);
                    }
                    let mut cs: Vec<&mut Compressor> = grouped.iter_mut().collect();
                    let mut bs: Vec<[&mut [f32]; 2]> = got
                        .iter_mut()
                        .map(|[l, r]| [&mut l[at..at + m], &mut r[at..at + m]])
                        .collect();
                    Compressor::process_group(&mut cs, &mut bs);
                    at += m;
                }
                for g in 0..group {
                    for c in 0..2 {
                        let same = want[g][c]
                            .iter()
                            .zip(&got[g][c])
                            .all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(
                            same,
                            "group {group}, block {block}: compressor {g}, channel {c}"
                        );
                    }
                    assert_eq!(
                        alone[g].gain_reduction_db().to_bits(),
                        grouped[g].gain_reduction_db().to_bits()
                    );
                }
                // The signals were compressed (the comparison is not of untouched audio).
                assert!(
                    want[0][0][..20_000]
                        .iter()
                        .zip(&signal(0, 0))
                        .any(|(a, b)| a != b)
                );
            }
        }
    }
}
