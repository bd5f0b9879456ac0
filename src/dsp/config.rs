//! Validated processor settings: plain data in engineering units, produced by session validation
//! and consumed by the processors' `build`. Nothing here can be out of range: validation has
//! already checked every value against the session's sample rate.

use std::path::PathBuf;

/// One entry of an `fx` chain.
#[derive(Debug, Clone, PartialEq)]
pub enum FxConfig {
    Eq(EqConfig),
    Compressor(CompressorConfig),
    Gate(GateConfig),
    Deesser(DeesserConfig),
    Saturation(SaturationConfig),
    Delay(DelayConfig),
    Chorus(ChorusConfig),
    Reverb(ReverbConfig),
    Width(WidthConfig),
    Gain(GainConfig),
    Multiband(MultibandConfig),
}

impl FxConfig {
    /// The `type` string of the session file.
    pub fn type_name(&self) -> &'static str {
        match self {
            FxConfig::Eq(_) => "eq",
            FxConfig::Compressor(_) => "compressor",
            FxConfig::Gate(_) => "gate",
            FxConfig::Deesser(_) => "deesser",
            FxConfig::Saturation(_) => "saturation",
            FxConfig::Delay(_) => "delay",
            FxConfig::Chorus(_) => "chorus",
            FxConfig::Reverb(_) => "reverb",
            FxConfig::Width(_) => "width",
            FxConfig::Gain(_) => "gain",
            FxConfig::Multiband(_) => "multiband",
        }
    }
}

/// Filter shape of one EQ band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BandKind {
    /// Butterworth cascade of `slope_db_oct` (6..48), or one biquad with `q`.
    Highpass,
    Lowpass,
    Lowshelf,
    Highshelf,
    Peak,
    Notch,
    Bandpass,
}

/// How steep a high- or low-pass band is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PassShape {
    /// Butterworth cascade, 6/12/18/24/36/48 dB per octave.
    Slope(u32),
    /// One second-order section with this Q.
    Q(f64),
}

/// Width of a shelf's transition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShelfShape {
    /// Audio EQ Cookbook shelf slope S (1 = steepest without overshoot).
    Slope(f64),
    Q(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EqBand {
    pub kind: BandKind,
    /// Corner, centre or shelf mid-point frequency in Hz (below Nyquist).
    pub freq_hz: f64,
    /// Gain in dB for shelves and peaks; 0 for the others.
    pub gain_db: f64,
    /// Pass filters: slope or Q.
    pub pass: PassShape,
    /// Shelves: slope or Q.
    pub shelf: ShelfShape,
    /// Peak, notch and band-pass Q.
    pub q: f64,
}

impl EqBand {
    /// A band of `kind` at `freq_hz` with the session file's defaults: 0 dB, 12 dB/oct for
    /// pass filters, shelf slope 1, Q 1/sqrt(2) (validation then applies what the file says).
    pub fn new(kind: BandKind, freq_hz: f64) -> Self {
        EqBand {
            kind,
            freq_hz,
            gain_db: 0.0,
            pass: PassShape::Slope(12),
            shelf: ShelfShape::Slope(1.0),
            q: std::f64::consts::FRAC_1_SQRT_2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Minimum,
    Linear,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EqConfig {
    pub bands: Vec<EqBand>,
    pub phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Peak,
    Rms,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompressorConfig {
    pub threshold_db: f64,
    /// Ratio `n:1`, at least 1.
    pub ratio: f64,
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub makeup_db: f64,
    pub detector: Detector,
    /// Wet share 0..1 (parallel compression below 1).
    pub mix: f64,
    /// Index of the track whose post-fx, pre-fader signal keys the detector.
    pub sidechain: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    pub threshold_db: f64,
    /// Attenuation when closed, positive dB.
    pub range_db: f64,
    pub attack_ms: f64,
    pub hold_ms: f64,
    pub release_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeesserConfig {
    pub freq_hz: f64,
    pub threshold_db: f64,
    /// Most reduction applied to the sibilant band, positive dB.
    pub range_db: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaturationModel {
    Tape,
    Tube,
    SoftClip,
    HardClip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SaturationConfig {
    pub model: SaturationModel,
    pub drive_db: f64,
    pub mix: f64,
    pub output_db: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DelayConfig {
    /// Delay time in ms, already converted from a note value when one was given.
    pub time_ms: f64,
    pub feedback: f64,
    pub mix: f64,
    pub ping_pong: bool,
    pub highcut_hz: Option<f64>,
    pub lowcut_hz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChorusConfig {
    pub rate_hz: f64,
    pub depth_ms: f64,
    pub mix: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReverbModel {
    Room,
    Hall,
    Plate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReverbKind {
    Algorithmic {
        model: ReverbModel,
        decay_s: f64,
        damping: f64,
        width: f64,
    },
    /// Convolution with an impulse response file (absolute path).
    Convolution { ir: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReverbConfig {
    pub kind: ReverbKind,
    pub predelay_ms: f64,
    pub mix: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WidthConfig {
    /// 0 mono, 1 unchanged, 2 twice the side signal.
    pub amount: f64,
    pub mono_below_hz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GainConfig {
    pub gain_db: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MultibandConfig {
    /// Ascending crossover frequencies in Hz.
    pub crossovers_hz: Vec<f64>,
    /// One compressor per band, `crossovers_hz.len() + 1` of them.
    pub bands: Vec<CompressorConfig>,
}
