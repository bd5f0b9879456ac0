//! Validation of `fx` chains: every processor type, its keys, units and ranges, into
//! [`FxConfig`] values. Frequencies are checked against the session's Nyquist frequency.

use crate::dsp::config::*;
use crate::dsp::envelope::ParamKey;

use super::automation::is_envelope;
use super::diag::Span;
use super::validate::Validator;
use super::walk::{Tbl, as_table, fmt_num, number};

/// Where a chain lives, which decides the processors it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Track(usize),
    Bus,
    Master,
}

const TYPES: &[&str] = &[
    "eq",
    "compressor",
    "gate",
    "deesser",
    "saturation",
    "delay",
    "chorus",
    "reverb",
    "width",
    "gain",
    "multiband",
];

/// Spans of fx entries that ask for a sidechain, for the cycle check.
#[derive(Debug, Clone)]
pub struct SidechainRef {
    pub key_track: usize,
    pub span: Span,
    pub path: String,
}

impl Validator<'_> {
    /// Read the `fx` array of a track, bus or the master.
    pub(super) fn fx_chain(
        &mut self,
        parent: &Tbl<'_, '_>,
        owner: Owner,
        sidechains: &mut Vec<SidechainRef>,
    ) -> Vec<crate::session::model::Fx> {
        let Some(items) = parent.array(&mut self.d, "fx") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", parent.key_path("fx"));
            let Some(t) = as_table(&mut self.d, item, path.clone()) else {
                continue;
            };
            self.automation.clear();
            if let Some(cfg) = self.fx_entry(&t, owner, sidechains) {
                out.push(crate::session::model::Fx {
                    config: cfg,
                    path,
                    automation: self.take_automation(),
                });
            }
        }
        out
    }

    fn fx_entry(
        &mut self,
        t: &Tbl<'_, '_>,
        owner: Owner,
        sidechains: &mut Vec<SidechainRef>,
    ) -> Option<FxConfig> {
        if !t.require(
            &mut self.d,
            "type",
            "every fx entry names its processor, e.g. type = \"eq\"",
        ) {
            return None;
        }
        let ty = t.choice(&mut self.d, "type", TYPES)?;
        let cfg = match ty.v.as_str() {
            "eq" => FxConfig::Eq(self.eq(t)?),
            "compressor" => {
                t.check_keys(&mut self.d, &with_type(COMPRESSOR_KEYS));
                FxConfig::Compressor(self.compressor(t, owner, sidechains, true)?)
            }
            "gate" => FxConfig::Gate(self.gate(t)),
            "deesser" => FxConfig::Deesser(self.deesser(t)),
            "saturation" => FxConfig::Saturation(self.saturation(t)),
            "delay" => FxConfig::Delay(self.delay(t)?),
            "chorus" => FxConfig::Chorus(self.chorus(t)),
            "reverb" => FxConfig::Reverb(self.reverb(t)?),
            "width" => FxConfig::Width(self.width_fx(t)),
            "gain" => {
                t.check_keys(&mut self.d, &["type", "gain_db"]);
                t.require(
                    &mut self.d,
                    "gain_db",
                    "the gain in dB, e.g. gain_db = -3.0",
                );
                FxConfig::Gain(GainConfig {
                    gain_db: self.fx_param(t, ParamKey::GainDb, 0.0, -96.0, 24.0, "dB"),
                })
            }
            "multiband" => {
                if owner != Owner::Master {
                    self.d.bad_value_help(
                        &ty.span,
                        &t.key_path("type"),
                        "multiband compression is a master processor",
                        "move it to [master].fx, or use a compressor here",
                    );
                    return None;
                }
                FxConfig::Multiband(self.multiband(t, sidechains)?)
            }
            _ => return None,
        };
        Some(cfg)
    }

    /// A frequency in Hz that must lie in `[lo, Nyquist)`.
    pub(super) fn freq(&mut self, t: &Tbl<'_, '_>, key: &str, default: f64, lo: f64) -> f64 {
        let Some(n) = t.num(&mut self.d, key) else {
            return default.min(self.nyquist() * 0.9);
        };
        let ny = self.nyquist();
        if n.v >= ny {
            self.d.bad_value_help(
                &n.span,
                &t.key_path(key),
                format!(
                    "must be below {} Hz (Nyquist at {})",
                    fmt_num(ny),
                    self.rate_text()
                ),
                "lower it, or raise [session].sample_rate",
            );
            default.min(ny * 0.9)
        } else if n.v < lo {
            self.d.bad_value(
                &n.span,
                &t.key_path(key),
                format!("must be at least {} Hz", fmt_num(lo)),
            );
            default
        } else {
            n.v
        }
    }

    fn eq(&mut self, t: &Tbl<'_, '_>) -> Option<EqConfig> {
        t.check_keys(&mut self.d, &["type", "bands", "phase"]);
        let phase = match t.choice(&mut self.d, "phase", &["minimum", "linear"]) {
            Some(s) if s.v == "linear" => Phase::Linear,
            _ => Phase::Minimum,
        };
        if !t.require(
            &mut self.d,
            "bands",
            "an eq needs bands = [{ kind = \"peak\", ... }]",
        ) {
            return None;
        }
        let items = t.array(&mut self.d, "bands")?;
        if items.is_empty() {
            self.d.bad_value(
                &t.span_of("bands"),
                &t.key_path("bands"),
                "needs at least one band",
            );
        }
        let mut bands = Vec::new();
        let mut located = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", t.key_path("bands"));
            let Some(bt) = as_table(&mut self.d, item, path) else {
                continue;
            };
            if phase == Phase::Linear {
                for key in ["freq_hz", "gain_db", "q"] {
                    if let Some(v) = bt.get(key).filter(|v| is_envelope(v)) {
                        self.d.bad_value_help(
                            &v.span(),
                            &bt.key_path(key),
                            "cannot be automated with phase = \"linear\": the FIR is designed once",
                            "use phase = \"minimum\" (the default) to automate a band",
                        );
                    }
                }
            }
            let before = self.automation.len();
            if let Some(b) = self.eq_band(&bt) {
                bands.push(b);
                located.push((bt.span.clone(), bt.path.clone()));
            }
            // The band's envelopes name it by its place.
            for a in &mut self.automation[before..] {
                a.param.band = bands.len().saturating_sub(1);
            }
        }
        let cfg = EqConfig { bands, phase };
        if phase == Phase::Linear && !cfg.bands.is_empty() && cfg.bands.len() == items.len() {
            self.linear_phase_misses(&cfg, &located);
        }
        Some(cfg)
    }

    /// Warn about every band of a linear-phase EQ that its filter, designed here exactly as the
    /// render will, misses by more than its accuracy bar ([`crate::dsp::fir::EQ_BAR_DB`]): too narrow a band for
    /// the longest filter allowed, or a notch's bottom. `located` holds each band's span and path.
    fn linear_phase_misses(&mut self, cfg: &EqConfig, located: &[(Span, String)]) {
        use crate::dsp::fir;
        let fs = f64::from(self.rate);
        let design = fir::design_eq(cfg, fs);
        let taps = design.coeffs.len();
        let length = if design.capped {
            format!("{taps} taps, the most allowed at {}", self.rate_text())
        } else {
            format!("{taps} taps")
        };
        for m in fir::eq_misses(cfg, fs, &design) {
            let (span, path) = &located[m.band];
            let hz = fmt_num((m.freq_hz * 10.0).round() / 10.0);
            let (message, help) = if m.cookbook_silent() {
                (
                    format!(
                        ": the linear-phase filter ({length}) reaches only {:.1} dB at {hz} Hz, \
                         where the Cookbook notch is silent",
                        m.fir_db
                    ),
                    "no finite linear-phase filter follows a notch to the bottom; \
                     phase = \"minimum\" gives the full depth"
                        .to_string(),
                )
            } else {
                (
                    format!(
                        ": the linear-phase filter ({length}) misses this band by {:.2} dB \
                         at {hz} Hz ({:+.2} dB where the Cookbook gives {:+.2} dB; the bar is \
                         {} dB)",
                        m.miss_db(),
                        m.fir_db,
                        m.cookbook_db,
                        fir::EQ_BAR_DB
                    ),
                    "widen the band (lower q), or use phase = \"minimum\", which follows the \
                     Cookbook exactly"
                        .to_string(),
                )
            };
            self.d.warn(Some(span), path, message, Some(help));
        }
    }

    fn eq_band(&mut self, t: &Tbl<'_, '_>) -> Option<EqBand> {
        const KINDS: &[&str] = &[
            "highpass",
            "lowpass",
            "lowshelf",
            "highshelf",
            "peak",
            "notch",
            "bandpass",
        ];
        t.require(
            &mut self.d,
            "kind",
            "one of highpass, lowpass, lowshelf, highshelf, peak, notch, bandpass",
        );
        t.require(&mut self.d, "freq_hz", "the band's frequency in Hz");
        let kind_s = t.choice(&mut self.d, "kind", KINDS);
        let freq_hz = self.freq_param(t, 1000.0, 1.0);
        let kind = match kind_s.as_ref().map(|s| s.v.as_str()) {
            Some("highpass") => BandKind::Highpass,
            Some("lowpass") => BandKind::Lowpass,
            Some("lowshelf") => BandKind::Lowshelf,
            Some("highshelf") => BandKind::Highshelf,
            Some("peak") => BandKind::Peak,
            Some("notch") => BandKind::Notch,
            Some("bandpass") => BandKind::Bandpass,
            _ => {
                t.check_keys(
                    &mut self.d,
                    &["kind", "freq_hz", "gain_db", "q", "slope_db_oct", "slope"],
                );
                return None;
            }
        };
        let kind_name = kind_s.map(|s| s.v).unwrap_or_default();
        let mut band = EqBand::new(kind, freq_hz);
        match kind {
            BandKind::Highpass | BandKind::Lowpass => {
                t.check_keys(&mut self.d, &["kind", "freq_hz", "q", "slope_db_oct"]);
                if t.has("q") && t.has("slope_db_oct") {
                    self.d.bad_value_help(
                        &t.span_of("slope_db_oct"),
                        &t.key_path("slope_db_oct"),
                        "give either q or slope_db_oct, not both",
                        "slope_db_oct builds a Butterworth cascade; q shapes one 12 dB/oct section",
                    );
                }
                if let Some(q) = self.opt_fx_param(t, ParamKey::Q, 0.1, 20.0, "") {
                    band.pass = PassShape::Q(q);
                } else if let Some((s, span)) = t.int(&mut self.d, "slope_db_oct") {
                    if [6, 12, 18, 24, 36, 48].contains(&s) {
                        band.pass = PassShape::Slope(s as u32);
                    } else {
                        self.d.bad_value(
                            &span,
                            &t.key_path("slope_db_oct"),
                            "must be 6, 12, 18, 24, 36 or 48 dB per octave",
                        );
                    }
                }
            }
            BandKind::Lowshelf | BandKind::Highshelf => {
                t.check_keys(&mut self.d, &["kind", "freq_hz", "gain_db", "q", "slope"]);
                t.require(
                    &mut self.d,
                    "gain_db",
                    &format!("a {kind_name} band needs its gain, e.g. gain_db = 1.5"),
                );
                band.gain_db = self.fx_param(t, ParamKey::GainDb, 0.0, -30.0, 30.0, "dB");
                if t.has("q") && t.has("slope") {
                    self.d.bad_value(
                        &t.span_of("slope"),
                        &t.key_path("slope"),
                        "give either q or slope, not both",
                    );
                }
                if let Some(q) = self.opt_fx_param(t, ParamKey::Q, 0.1, 10.0, "") {
                    band.shelf = ShelfShape::Q(q);
                } else if let Some(s) = t.opt_num_in(&mut self.d, "slope", 0.1, 1.0, "") {
                    band.shelf = ShelfShape::Slope(s);
                }
            }
            BandKind::Peak => {
                t.check_keys(&mut self.d, &["kind", "freq_hz", "gain_db", "q"]);
                t.require(
                    &mut self.d,
                    "gain_db",
                    "a peak band needs its gain, e.g. gain_db = 2.0",
                );
                band.gain_db = self.fx_param(t, ParamKey::GainDb, 0.0, -30.0, 30.0, "dB");
                band.q = self.fx_param(t, ParamKey::Q, 1.0, 0.1, 40.0, "");
            }
            BandKind::Notch => {
                t.check_keys(&mut self.d, &["kind", "freq_hz", "q"]);
                band.q = self.fx_param(t, ParamKey::Q, 8.0, 0.1, 100.0, "");
            }
            BandKind::Bandpass => {
                t.check_keys(&mut self.d, &["kind", "freq_hz", "q"]);
                band.q = self.fx_param(
                    t,
                    ParamKey::Q,
                    std::f64::consts::FRAC_1_SQRT_2,
                    0.1,
                    40.0,
                    "",
                );
            }
        }
        Some(band)
    }

    /// Compressor keys (also the bands of a multiband compressor, minus `sidechain`).
    pub(super) fn compressor(
        &mut self,
        t: &Tbl<'_, '_>,
        owner: Owner,
        sidechains: &mut Vec<SidechainRef>,
        allow_sidechain: bool,
    ) -> Option<CompressorConfig> {
        let detector = match t.choice(&mut self.d, "detector", &["peak", "rms"]) {
            Some(s) if s.v == "rms" => Detector::Rms,
            _ => Detector::Peak,
        };
        // A multiband band's compressor (no sidechain) takes no envelopes.
        let num = |v: &mut Self, key: ParamKey, default, lo, hi, unit| {
            if allow_sidechain {
                v.fx_param(t, key, default, lo, hi, unit)
            } else {
                t.num_in(&mut v.d, key.name(), default, lo, hi, unit)
            }
        };
        let threshold_db = num(self, ParamKey::ThresholdDb, -18.0, -80.0, 0.0, "dB");
        let ratio = num(self, ParamKey::Ratio, 4.0, 1.0, 100.0, ":1");
        let makeup_db = num(self, ParamKey::MakeupDb, 0.0, -24.0, 24.0, "dB");
        let mix = num(self, ParamKey::Mix, 1.0, 0.0, 1.0, "");
        let mut cfg = CompressorConfig {
            threshold_db,
            ratio,
            knee_db: t.num_in(&mut self.d, "knee_db", 6.0, 0.0, 24.0, "dB"),
            attack_ms: t.num_in(&mut self.d, "attack_ms", 10.0, 0.01, 500.0, "ms"),
            release_ms: t.num_in(&mut self.d, "release_ms", 100.0, 1.0, 5000.0, "ms"),
            makeup_db,
            detector,
            mix,
            sidechain: None,
        };
        if allow_sidechain && let Some(s) = t.str(&mut self.d, "sidechain") {
            match self.track_index(&s.v) {
                Some(k) if owner == Owner::Track(k) => {
                    self.d.bad_value_help(
                        &s.span,
                        &t.key_path("sidechain"),
                        "a track cannot key its own compressor",
                        "leave sidechain out: the compressor already listens to its own input",
                    );
                }
                Some(k) => {
                    cfg.sidechain = Some(k);
                    sidechains.push(SidechainRef {
                        key_track: k,
                        span: s.span,
                        path: t.key_path("sidechain"),
                    });
                }
                None => {
                    let help = self.name_hint(&s.v, &self.track_names.clone(), "track");
                    self.d.bad_value_help(
                        &s.span,
                        &t.key_path("sidechain"),
                        "no track has this name",
                        help,
                    );
                }
            }
        }
        Some(cfg)
    }

    fn gate(&mut self, t: &Tbl<'_, '_>) -> GateConfig {
        t.check_keys(
            &mut self.d,
            &[
                "type",
                "threshold_db",
                "range_db",
                "attack_ms",
                "hold_ms",
                "release_ms",
            ],
        );
        GateConfig {
            threshold_db: t.num_in(&mut self.d, "threshold_db", -50.0, -100.0, 0.0, "dB"),
            range_db: t.num_in(&mut self.d, "range_db", 60.0, 0.0, 100.0, "dB"),
            attack_ms: t.num_in(&mut self.d, "attack_ms", 1.0, 0.01, 100.0, "ms"),
            hold_ms: t.num_in(&mut self.d, "hold_ms", 20.0, 0.0, 2000.0, "ms"),
            release_ms: t.num_in(&mut self.d, "release_ms", 100.0, 1.0, 5000.0, "ms"),
        }
    }

    fn deesser(&mut self, t: &Tbl<'_, '_>) -> DeesserConfig {
        t.check_keys(
            &mut self.d,
            &["type", "freq_hz", "threshold_db", "range_db"],
        );
        DeesserConfig {
            freq_hz: self.freq(t, "freq_hz", 6500.0, 1000.0),
            threshold_db: self.fx_param(t, ParamKey::ThresholdDb, -30.0, -80.0, 0.0, "dB"),
            range_db: t.num_in(&mut self.d, "range_db", 6.0, 0.0, 24.0, "dB"),
        }
    }

    fn saturation(&mut self, t: &Tbl<'_, '_>) -> SaturationConfig {
        t.check_keys(
            &mut self.d,
            &["type", "model", "drive_db", "mix", "output_db"],
        );
        let model = match t
            .choice(
                &mut self.d,
                "model",
                &["tape", "tube", "soft_clip", "hard_clip"],
            )
            .map(|s| s.v)
            .as_deref()
        {
            Some("tube") => SaturationModel::Tube,
            Some("soft_clip") => SaturationModel::SoftClip,
            Some("hard_clip") => SaturationModel::HardClip,
            _ => SaturationModel::Tape,
        };
        SaturationConfig {
            model,
            drive_db: self.fx_param(t, ParamKey::DriveDb, 6.0, 0.0, 36.0, "dB"),
            mix: self.fx_param(t, ParamKey::Mix, 1.0, 0.0, 1.0, ""),
            output_db: self.fx_param(t, ParamKey::OutputDb, 0.0, -24.0, 24.0, "dB"),
        }
    }

    fn delay(&mut self, t: &Tbl<'_, '_>) -> Option<DelayConfig> {
        t.check_keys(
            &mut self.d,
            &[
                "type",
                "time_ms",
                "time",
                "feedback",
                "mix",
                "ping_pong",
                "highcut_hz",
                "lowcut_hz",
            ],
        );
        let time_ms = match (t.has("time_ms"), t.has("time")) {
            (true, true) => {
                self.d.bad_value(
                    &t.span_of("time"),
                    &t.key_path("time"),
                    "give either time_ms or time (a note value), not both",
                );
                None
            }
            (false, false) => {
                t.require(
                    &mut self.d,
                    "time_ms",
                    "a delay needs time_ms = 375.0 or a note value time = \"1/8\"",
                );
                None
            }
            (true, false) => t.opt_num_in(&mut self.d, "time_ms", 0.1, 5000.0, "ms"),
            (false, true) => {
                let s = t.str(&mut self.d, "time")?;
                self.note_ms(&s.v, &s.span, &t.key_path("time"))
            }
        };
        let feedback = self.fx_param(t, ParamKey::Feedback, 0.3, 0.0, 0.95, "");
        let mix = self.fx_param(t, ParamKey::Mix, 0.25, 0.0, 1.0, "");
        let ping_pong = t.bool_or(&mut self.d, "ping_pong", false);
        let highcut_hz = t
            .has("highcut_hz")
            .then(|| self.freq(t, "highcut_hz", 8000.0, 20.0));
        let lowcut_hz = t
            .has("lowcut_hz")
            .then(|| self.freq(t, "lowcut_hz", 100.0, 10.0));
        if let (Some(h), Some(l)) = (highcut_hz, lowcut_hz)
            && l >= h
        {
            self.d.bad_value(
                &t.span_of("lowcut_hz"),
                &t.key_path("lowcut_hz"),
                format!("must be below highcut_hz = {}", fmt_num(h)),
            );
        }
        Some(DelayConfig {
            time_ms: time_ms?,
            feedback,
            mix,
            ping_pong,
            highcut_hz,
            lowcut_hz,
        })
    }

    /// Convert a note value ("1/8", "1/4.", "1/8t") to milliseconds at the session tempo.
    fn note_ms(&mut self, s: &str, span: &Span, path: &str) -> Option<f64> {
        let Some(bpm) = self.tempo_bpm else {
            self.d.bad_value_help(
                span,
                path,
                "a note value needs the tempo",
                "set [session].tempo_bpm, or give time_ms instead",
            );
            return None;
        };
        let (body, factor) = if let Some(b) = s.strip_suffix('.') {
            (b, 1.5)
        } else if let Some(b) = s.strip_suffix('t') {
            (b, 2.0 / 3.0)
        } else {
            (s, 1.0)
        };
        let denom = body
            .strip_prefix("1/")
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|d| [1, 2, 4, 8, 16, 32].contains(d));
        let Some(denom) = denom else {
            self.d.bad_value_help(
                span,
                path,
                "not a note value",
                "use 1/1, 1/2, 1/4, 1/8, 1/16 or 1/32, with '.' for dotted or 't' for triplet: \"1/8\", \"1/4.\", \"1/8t\"",
            );
            return None;
        };
        // A whole note is four beats.
        let ms = 60_000.0 / bpm * 4.0 / f64::from(denom) * factor;
        if ms > 5000.0 {
            self.d.bad_value(
                span,
                path,
                format!(
                    "is {} ms at {} BPM; delays are limited to 5000 ms",
                    fmt_num(ms.round()),
                    fmt_num(bpm)
                ),
            );
            return None;
        }
        Some(ms)
    }

    fn chorus(&mut self, t: &Tbl<'_, '_>) -> ChorusConfig {
        t.check_keys(&mut self.d, &["type", "rate_hz", "depth_ms", "mix"]);
        ChorusConfig {
            rate_hz: self.fx_param(t, ParamKey::RateHz, 0.8, 0.01, 10.0, "Hz"),
            depth_ms: self.fx_param(t, ParamKey::DepthMs, 3.0, 0.0, 20.0, "ms"),
            mix: self.fx_param(t, ParamKey::Mix, 0.5, 0.0, 1.0, ""),
        }
    }

    fn reverb(&mut self, t: &Tbl<'_, '_>) -> Option<ReverbConfig> {
        let predelay_ms = t.num_in(&mut self.d, "predelay_ms", 0.0, 0.0, 500.0, "ms");
        let mix = self.fx_param(t, ParamKey::Mix, 1.0, 0.0, 1.0, "");
        if t.has("ir") {
            t.check_keys(&mut self.d, &["type", "ir", "predelay_ms", "mix"]);
            let s = t.str(&mut self.d, "ir")?;
            let path = self.input_file(&s, &t.key_path("ir"), true)?;
            return Some(ReverbConfig {
                kind: ReverbKind::Convolution { ir: path },
                predelay_ms,
                mix,
            });
        }
        t.check_keys(
            &mut self.d,
            &[
                "type",
                "model",
                "ir",
                "decay_s",
                "predelay_ms",
                "damping",
                "width",
                "mix",
            ],
        );
        if !t.require(
            &mut self.d,
            "model",
            "a reverb needs model = \"room\" | \"hall\" | \"plate\", or ir = \"file.wav\"",
        ) {
            return None;
        }
        let model = match t
            .choice(&mut self.d, "model", &["room", "hall", "plate"])?
            .v
            .as_str()
        {
            "room" => ReverbModel::Room,
            "hall" => ReverbModel::Hall,
            _ => ReverbModel::Plate,
        };
        let default_decay = match model {
            ReverbModel::Room => 0.8,
            ReverbModel::Hall => 2.5,
            ReverbModel::Plate => 1.8,
        };
        Some(ReverbConfig {
            kind: ReverbKind::Algorithmic {
                model,
                decay_s: t.num_in(&mut self.d, "decay_s", default_decay, 0.1, 20.0, "s"),
                damping: t.num_in(&mut self.d, "damping", 0.5, 0.0, 1.0, ""),
                width: t.num_in(&mut self.d, "width", 1.0, 0.0, 2.0, ""),
            },
            predelay_ms,
            mix,
        })
    }

    fn width_fx(&mut self, t: &Tbl<'_, '_>) -> WidthConfig {
        t.check_keys(&mut self.d, &["type", "amount", "mono_below_hz"]);
        WidthConfig {
            amount: self.fx_param(t, ParamKey::Amount, 1.0, 0.0, 2.0, ""),
            mono_below_hz: t
                .has("mono_below_hz")
                .then(|| self.freq(t, "mono_below_hz", 120.0, 20.0)),
        }
    }

    fn multiband(
        &mut self,
        t: &Tbl<'_, '_>,
        sidechains: &mut Vec<SidechainRef>,
    ) -> Option<MultibandConfig> {
        t.check_keys(&mut self.d, &["type", "crossovers_hz", "bands"]);
        t.require(
            &mut self.d,
            "crossovers_hz",
            "e.g. crossovers_hz = [120.0, 2500.0]",
        );
        t.require(
            &mut self.d,
            "bands",
            "one { threshold_db, ratio, ... } per band",
        );
        let xs = t.array(&mut self.d, "crossovers_hz")?;
        let mut crossovers = Vec::new();
        let path = t.key_path("crossovers_hz");
        if xs.is_empty() || xs.len() > 4 {
            self.d.bad_value(
                &t.span_of("crossovers_hz"),
                &path,
                format!("has {} crossovers; give 1 to 4", xs.len()),
            );
        }
        let ny = self.nyquist();
        for (i, x) in xs.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match number(x.get_ref()).filter(|f| f.is_finite()) {
                Some(f) if f >= 20.0 && f < ny => {
                    if let Some(&prev) = crossovers.last()
                        && f <= prev * 1.25
                    {
                        self.d.bad_value(
                            &x.span(),
                            &p,
                            format!(
                                "must be ascending and at least a third of an octave above {} Hz",
                                fmt_num(prev)
                            ),
                        );
                    }
                    crossovers.push(f);
                }
                Some(_) => self.d.bad_value(
                    &x.span(),
                    &p,
                    format!(
                        "must be between 20 Hz and the Nyquist frequency {} Hz",
                        fmt_num(ny)
                    ),
                ),
                None => self
                    .d
                    .bad_value(&x.span(), &p, "expected a frequency in Hz"),
            }
        }
        let items = t.array(&mut self.d, "bands")?;
        if items.len() != xs.len() + 1 {
            self.d.bad_value_help(
                &t.span_of("bands"),
                &t.key_path("bands"),
                format!(
                    "has {} bands but {} crossovers make {} bands",
                    items.len(),
                    xs.len(),
                    xs.len() + 1
                ),
                "give one compressor table per band, lowest band first",
            );
        }
        let mut bands = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{}[{i}]", t.key_path("bands"));
            if let Some(bt) = as_table(&mut self.d, item, p) {
                bt.check_keys(&mut self.d, &COMPRESSOR_KEYS[..COMPRESSOR_KEYS.len() - 1]);
                if let Some(c) = self.compressor(&bt, Owner::Master, sidechains, false) {
                    bands.push(c);
                }
            }
        }
        Some(MultibandConfig {
            crossovers_hz: crossovers,
            bands,
        })
    }
}

/// Compressor keys; `sidechain` last (multiband bands take all but it).
const COMPRESSOR_KEYS: &[&str] = &[
    "threshold_db",
    "ratio",
    "knee_db",
    "attack_ms",
    "release_ms",
    "makeup_db",
    "detector",
    "mix",
    "sidechain",
];

fn with_type(keys: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec!["type"];
    v.extend_from_slice(keys);
    v
}
