//! Validation of `fx` chains: every processor type, its keys, units and ranges, into
//! [`FxConfig`] values. Frequencies are checked against the session's Nyquist frequency.

use crate::dsp::config::*;
use crate::dsp::envelope::{Automation, Curve, Envelope, ParamId, ParamKey};

use super::automation::{hz_check, is_envelope, point_value_span};
use super::diag::Span;
use super::keys::{self, Key, Ty, fx as k};
use super::validate::Validator;
use super::walk::{Tbl, Val, as_table, fmt_num, number};

/// Where a chain lives, which decides the processors it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Track(usize),
    Bus,
    Master,
}

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
        let key = keys::track::FX.name;
        let Some(items) = parent.array(&mut self.d, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", parent.key_path(key));
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
            TYPE,
            "every fx entry names its processor, e.g. type = \"eq\"",
        ) {
            return None;
        }
        let ty = t.choice(&mut self.d, TYPE, &keys::tags(k::MASTER_CHAIN))?;
        let cfg = match ty.v.as_str() {
            "eq" => FxConfig::Eq(self.eq(t)?),
            "compressor" => {
                t.check_section(&mut self.d, &k::compressor::SECTION, &[TYPE]);
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
                let g = &k::gain::GAIN_DB;
                t.check_section(&mut self.d, &k::gain::SECTION, &[TYPE]);
                t.require(&mut self.d, g.name, "the gain in dB, e.g. gain_db = -3.0");
                FxConfig::Gain(GainConfig {
                    gain_db: self.fx_param(t, ParamKey::GainDb, g),
                })
            }
            "multiband" => {
                if owner != Owner::Master {
                    self.d.bad_value_help(
                        &ty.span,
                        &t.key_path(TYPE),
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

    /// A frequency key ([`Ty::Hz`]): its value in `[lo, Nyquist)`, or its default (kept below
    /// Nyquist) when absent or out of range (recorded). A required frequency has no default;
    /// its lowest value stands in after the error.
    pub(super) fn freq(&mut self, t: &Tbl<'_, '_>, k: &Key) -> f64 {
        let key = k.name;
        let lo = match k.ty {
            Ty::Hz { lo } | Ty::HzEnvelope { lo } => lo,
            _ => 0.0,
        };
        let default = k.num_default().unwrap_or(lo);
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
        use k::eq::{BANDS, PHASE};
        t.check_section(&mut self.d, &k::eq::SECTION, &[TYPE]);
        let phase = match t.choice_of(&mut self.d, &PHASE) {
            Some(s) if s.v == "linear" => Phase::Linear,
            _ => Phase::Minimum,
        };
        if !t.require(
            &mut self.d,
            BANDS.name,
            "an eq needs bands = [{ kind = \"peak\", ... }]",
        ) {
            return None;
        }
        let items = t.array(&mut self.d, BANDS.name)?;
        if items.is_empty() {
            self.d.bad_value(
                &t.span_of(BANDS.name),
                &t.key_path(BANDS.name),
                "needs at least one band",
            );
        }
        let mut bands = Vec::new();
        let mut located = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", t.key_path(BANDS.name));
            let Some(bt) = as_table(&mut self.d, item, path) else {
                continue;
            };
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
        use k::eq as e;
        let kinds = keys::tags(e::KINDS);
        t.require(
            &mut self.d,
            KIND,
            "one of highpass, lowpass, lowshelf, highshelf, peak, notch, bandpass",
        );
        t.require(&mut self.d, e::FREQ_HZ.name, "the band's frequency in Hz");
        let kind_s = t.choice(&mut self.d, KIND, &kinds);
        let freq_hz = self.freq_param(t, ParamKey::FreqHz, &e::FREQ_HZ);
        let kind = match kind_s.as_ref().map(|s| s.v.as_str()) {
            Some("highpass") => BandKind::Highpass,
            Some("lowpass") => BandKind::Lowpass,
            Some("lowshelf") => BandKind::Lowshelf,
            Some("highshelf") => BandKind::Highshelf,
            Some("peak") => BandKind::Peak,
            Some("notch") => BandKind::Notch,
            Some("bandpass") => BandKind::Bandpass,
            _ => {
                // No kind to go by: every key any band may take is allowed.
                let mut all: Vec<&str> = vec![KIND];
                for v in e::KINDS {
                    for n in v.section.names() {
                        if !all.contains(&n) {
                            all.push(n);
                        }
                    }
                }
                t.check_keys(&mut self.d, &all);
                return None;
            }
        };
        let kind_name = kind_s.map(|s| s.v).unwrap_or_default();
        let mut band = EqBand::new(kind, freq_hz);
        match kind {
            BandKind::Highpass | BandKind::Lowpass => {
                t.check_section(&mut self.d, &e::PASS, &[KIND]);
                let (q, slope) = (&e::PASS_Q, &e::SLOPE_DB_OCT);
                if t.has(q.name) && t.has(slope.name) {
                    self.d.bad_value_help(
                        &t.span_of(slope.name),
                        &t.key_path(slope.name),
                        "give either q or slope_db_oct, not both",
                        "slope_db_oct builds a Butterworth cascade; q shapes one 12 dB/oct section",
                    );
                }
                band.pass = if let Some(q) = self.opt_fx_param(t, ParamKey::Q, q) {
                    PassShape::Q(q)
                } else {
                    let s = t
                        .int_of(&mut self.d, slope)
                        .or(slope.num_default().map(|d| d as i64));
                    s.map_or(band.pass, |s| PassShape::Slope(s as u32))
                };
            }
            BandKind::Lowshelf | BandKind::Highshelf => {
                t.check_section(&mut self.d, &e::SHELF, &[KIND]);
                t.require(
                    &mut self.d,
                    e::GAIN_DB.name,
                    &format!("a {kind_name} band needs its gain, e.g. gain_db = 1.5"),
                );
                band.gain_db = self.fx_param(t, ParamKey::GainDb, &e::GAIN_DB);
                let (q, slope) = (&e::SHELF_Q, &e::SHELF_SLOPE);
                if t.has(q.name) && t.has(slope.name) {
                    self.d.bad_value(
                        &t.span_of(slope.name),
                        &t.key_path(slope.name),
                        "give either q or slope, not both",
                    );
                }
                band.shelf = match self.opt_fx_param(t, ParamKey::Q, q) {
                    Some(q) => ShelfShape::Q(q),
                    None => ShelfShape::Slope(self.fx_param(t, ParamKey::Slope, slope)),
                };
            }
            BandKind::Peak => {
                t.check_section(&mut self.d, &e::PEAK, &[KIND]);
                t.require(
                    &mut self.d,
                    e::GAIN_DB.name,
                    "a peak band needs its gain, e.g. gain_db = 2.0",
                );
                band.gain_db = self.fx_param(t, ParamKey::GainDb, &e::GAIN_DB);
                band.q = self.fx_param(t, ParamKey::Q, &e::PEAK_Q);
            }
            BandKind::Notch => {
                t.check_section(&mut self.d, &e::NOTCH, &[KIND]);
                band.q = self.fx_param(t, ParamKey::Q, &e::NOTCH_Q);
            }
            BandKind::Bandpass => {
                t.check_section(&mut self.d, &e::BANDPASS, &[KIND]);
                band.q = self.fx_param(t, ParamKey::Q, &e::BANDPASS_Q);
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
        use k::compressor as c;
        let detector = match t.choice_of(&mut self.d, &c::DETECTOR) {
            Some(s) if s.v == "rms" => Detector::Rms,
            _ => Detector::Peak,
        };
        // Every numeric key may follow an envelope, in a multiband band too (which names the
        // band on its envelopes).
        let num = |v: &mut Self, param: ParamKey, k: &Key| v.fx_param(t, param, k);
        let threshold_db = num(self, ParamKey::ThresholdDb, &c::THRESHOLD_DB);
        let ratio = num(self, ParamKey::Ratio, &c::RATIO);
        let makeup_db = num(self, ParamKey::MakeupDb, &c::MAKEUP_DB);
        let mix = num(self, ParamKey::Mix, &c::MIX);
        let knee_db = num(self, ParamKey::KneeDb, &c::KNEE_DB);
        let attack_ms = num(self, ParamKey::AttackMs, &c::ATTACK_MS);
        let release_ms = num(self, ParamKey::ReleaseMs, &c::RELEASE_MS);
        let mut cfg = CompressorConfig {
            threshold_db,
            ratio,
            knee_db,
            attack_ms,
            release_ms,
            makeup_db,
            detector,
            mix,
            sidechain: None,
        };
        let sidechain = c::SIDECHAIN.name;
        if allow_sidechain && let Some(s) = t.str(&mut self.d, sidechain) {
            match self.track_index(&s.v) {
                Some(k) if owner == Owner::Track(k) => {
                    self.d.bad_value_help(
                        &s.span,
                        &t.key_path(sidechain),
                        "a track cannot key its own compressor",
                        "leave sidechain out: the compressor already listens to its own input",
                    );
                }
                Some(k) => {
                    cfg.sidechain = Some(k);
                    sidechains.push(SidechainRef {
                        key_track: k,
                        span: s.span,
                        path: t.key_path(sidechain),
                    });
                }
                None => {
                    let help = self.name_hint(&s.v, &self.track_names.clone(), "track");
                    self.d.bad_value_help(
                        &s.span,
                        &t.key_path(sidechain),
                        "no track has this name",
                        help,
                    );
                }
            }
        }
        Some(cfg)
    }

    fn gate(&mut self, t: &Tbl<'_, '_>) -> GateConfig {
        use k::gate as g;
        t.check_section(&mut self.d, &g::SECTION, &[TYPE]);
        GateConfig {
            threshold_db: self.fx_param(t, ParamKey::ThresholdDb, &g::THRESHOLD_DB),
            range_db: self.fx_param(t, ParamKey::RangeDb, &g::RANGE_DB),
            attack_ms: self.fx_param(t, ParamKey::AttackMs, &g::ATTACK_MS),
            hold_ms: self.fx_param(t, ParamKey::HoldMs, &g::HOLD_MS),
            release_ms: self.fx_param(t, ParamKey::ReleaseMs, &g::RELEASE_MS),
        }
    }

    fn deesser(&mut self, t: &Tbl<'_, '_>) -> DeesserConfig {
        use k::deesser as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        DeesserConfig {
            freq_hz: self.freq_param(t, ParamKey::FreqHz, &e::FREQ_HZ),
            threshold_db: self.fx_param(t, ParamKey::ThresholdDb, &e::THRESHOLD_DB),
            range_db: self.fx_param(t, ParamKey::RangeDb, &e::RANGE_DB),
        }
    }

    fn saturation(&mut self, t: &Tbl<'_, '_>) -> SaturationConfig {
        use k::saturation as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        let model = match t.choice_of(&mut self.d, &e::MODEL).map(|s| s.v).as_deref() {
            Some("tube") => SaturationModel::Tube,
            Some("soft_clip") => SaturationModel::SoftClip,
            Some("hard_clip") => SaturationModel::HardClip,
            _ => SaturationModel::Tape,
        };
        SaturationConfig {
            model,
            drive_db: self.fx_param(t, ParamKey::DriveDb, &e::DRIVE_DB),
            mix: self.fx_param(t, ParamKey::Mix, &e::MIX),
            output_db: self.fx_param(t, ParamKey::OutputDb, &e::OUTPUT_DB),
        }
    }

    fn delay(&mut self, t: &Tbl<'_, '_>) -> Option<DelayConfig> {
        use k::delay as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        let (time_ms, time) = (e::TIME_MS.name, e::TIME.name);
        let time_ms = match (t.has(time_ms), t.has(time)) {
            (true, true) => {
                self.d.bad_value(
                    &t.span_of(time),
                    &t.key_path(time),
                    "give either time_ms or time (a note value), not both",
                );
                None
            }
            (false, false) => {
                t.require(
                    &mut self.d,
                    time_ms,
                    "a delay needs time_ms = 375.0 or a note value time = \"1/8\"",
                );
                None
            }
            (true, false) => self.opt_fx_param(t, ParamKey::TimeMs, &e::TIME_MS),
            (false, true) => {
                let s = t.str(&mut self.d, time)?;
                self.note_ms(&s.v, &s.span, &t.key_path(time))
            }
        };
        let feedback = self.fx_param(t, ParamKey::Feedback, &e::FEEDBACK);
        let mix = self.fx_param(t, ParamKey::Mix, &e::MIX);
        let ping_pong = t.bool_of(&mut self.d, &e::PING_PONG);
        // An envelope turns the filter on, at its first value.
        let highcut_hz = t
            .has(e::HIGHCUT_HZ.name)
            .then(|| self.freq_param(t, ParamKey::HighcutHz, &e::HIGHCUT_HZ));
        let lowcut_hz = t
            .has(e::LOWCUT_HZ.name)
            .then(|| self.freq_param(t, ParamKey::LowcutHz, &e::LOWCUT_HZ));
        if let (Some(h), Some(l)) = (highcut_hz, lowcut_hz)
            && l >= h
        {
            self.d.bad_value(
                &t.span_of(e::LOWCUT_HZ.name),
                &t.key_path(e::LOWCUT_HZ.name),
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
        let (_, max_ms) = k::delay::TIME_MS.range().unwrap_or_default();
        if ms > max_ms {
            self.d.bad_value(
                span,
                path,
                format!(
                    "is {} ms at {} BPM; delays are limited to {} ms",
                    fmt_num(ms.round()),
                    fmt_num(bpm),
                    fmt_num(max_ms)
                ),
            );
            return None;
        }
        Some(ms)
    }

    fn chorus(&mut self, t: &Tbl<'_, '_>) -> ChorusConfig {
        use k::chorus as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        ChorusConfig {
            rate_hz: self.fx_param(t, ParamKey::RateHz, &e::RATE_HZ),
            depth_ms: self.fx_param(t, ParamKey::DepthMs, &e::DEPTH_MS),
            mix: self.fx_param(t, ParamKey::Mix, &e::MIX),
        }
    }

    fn reverb(&mut self, t: &Tbl<'_, '_>) -> Option<ReverbConfig> {
        use k::reverb as e;
        let mix = self.fx_param(t, ParamKey::Mix, &e::MIX);
        if t.has(e::IR.name) {
            t.check_section(&mut self.d, &e::IR_SECTION, &[TYPE]);
            let predelay_ms = self.fx_param(t, ParamKey::PredelayMs, &e::IR_PREDELAY_MS);
            let s = t.str(&mut self.d, e::IR.name)?;
            let path = self.input_file(&s, &t.key_path(e::IR.name), true)?;
            return Some(ReverbConfig {
                kind: ReverbKind::Convolution { ir: path },
                predelay_ms,
                mix,
            });
        }
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        let predelay_ms = self.fx_param(t, ParamKey::PredelayMs, &e::PREDELAY_MS);
        if !t.require(
            &mut self.d,
            e::MODEL.name,
            "a reverb needs model = \"room\" | \"hall\" | \"plate\", or ir = \"file.wav\"",
        ) {
            return None;
        }
        let name = t.choice_of(&mut self.d, &e::MODEL)?.v;
        let model = match name.as_str() {
            "room" => ReverbModel::Room,
            "hall" => ReverbModel::Hall,
            _ => ReverbModel::Plate,
        };
        // The default decay is the model's own, so an absent key is not the key's default.
        let decay_s = if t.get(e::DECAY_S.name).is_some_and(is_envelope) {
            self.fx_param(t, ParamKey::DecayS, &e::DECAY_S)
        } else {
            t.opt_num_of(&mut self.d, &e::DECAY_S)
                .or(e::DECAY_S.default_for(&name))
                .unwrap_or_default()
        };
        Some(ReverbConfig {
            kind: ReverbKind::Algorithmic {
                model,
                decay_s,
                damping: self.fx_param(t, ParamKey::Damping, &e::DAMPING),
                width: self.fx_param(t, ParamKey::Width, &e::WIDTH),
            },
            predelay_ms,
            mix,
        })
    }

    fn width_fx(&mut self, t: &Tbl<'_, '_>) -> WidthConfig {
        use k::width as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        WidthConfig {
            amount: self.fx_param(t, ParamKey::Amount, &e::AMOUNT),
            // An envelope turns the crossover on, at its first value.
            mono_below_hz: t
                .has(e::MONO_BELOW_HZ.name)
                .then(|| self.freq_param(t, ParamKey::MonoBelowHz, &e::MONO_BELOW_HZ)),
        }
    }

    fn multiband(
        &mut self,
        t: &Tbl<'_, '_>,
        sidechains: &mut Vec<SidechainRef>,
    ) -> Option<MultibandConfig> {
        use k::multiband as e;
        t.check_section(&mut self.d, &e::SECTION, &[TYPE]);
        let (crossovers_hz, bands_key) = (e::CROSSOVERS_HZ.name, e::BANDS.name);
        t.require(
            &mut self.d,
            crossovers_hz,
            "e.g. crossovers_hz = [120.0, 2500.0]",
        );
        t.require(
            &mut self.d,
            bands_key,
            "one { threshold_db, ratio, ... } per band",
        );
        let Ty::List { item, min, max } = e::CROSSOVERS_HZ.ty else {
            return None;
        };
        let lo = match *item {
            Ty::Hz { lo } | Ty::HzEnvelope { lo } => lo,
            _ => 0.0,
        };
        let xs = t.array(&mut self.d, crossovers_hz)?;
        let mut crossovers = Vec::new();
        let path = t.key_path(crossovers_hz);
        if xs.len() < min || xs.len() > max {
            self.d.bad_value(
                &t.span_of(crossovers_hz),
                &path,
                format!("has {} crossovers; give {min} to {max}", xs.len()),
            );
        }
        let ny = self.nyquist();
        // Each valid crossover, for the spacing checks of its neighbours.
        let mut corners: Vec<Option<Corner<'_>>> = Vec::with_capacity(xs.len());
        for (i, x) in xs.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if is_envelope(x) {
                let check = hz_check(lo, ny, self.rate_text());
                let corner = self.envelope_value(x, p, &check).map(|envelope| {
                    crossovers.push(envelope.first());
                    // Named to the processor by its place among the crossovers.
                    self.automation.push(Automation {
                        param: ParamId {
                            key: ParamKey::FreqHz,
                            band: i,
                        },
                        envelope: envelope.clone(),
                    });
                    Corner::Moving(envelope, x)
                });
                corners.push(corner);
                continue;
            }
            match number(x.get_ref()).filter(|f| f.is_finite()) {
                Some(f) if f >= lo && f < ny => {
                    crossovers.push(f);
                    corners.push(Some(Corner::Fixed(f)));
                }
                Some(_) => {
                    corners.push(None);
                    self.d.bad_value(
                        &x.span(),
                        &p,
                        format!(
                            "must be between {} Hz and the Nyquist frequency {} Hz",
                            fmt_num(lo),
                            fmt_num(ny)
                        ),
                    )
                }
                None => {
                    corners.push(None);
                    self.d
                        .bad_value(&x.span(), &p, "expected a frequency in Hz")
                }
            }
        }
        for (i, pair) in corners.windows(2).enumerate() {
            let (Some(below), Some(above)) = (&pair[0], &pair[1]) else {
                continue;
            };
            self.check_spacing(&path, i, below, above, &xs[i + 1]);
        }
        let items = t.array(&mut self.d, bands_key)?;
        if items.len() != xs.len() + 1 {
            self.d.bad_value_help(
                &t.span_of(bands_key),
                &t.key_path(bands_key),
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
            let p = format!("{}[{i}]", t.key_path(bands_key));
            if let Some(bt) = as_table(&mut self.d, item, p) {
                bt.check_section(&mut self.d, &e::BAND, &[]);
                let before = self.automation.len();
                if let Some(c) = self.compressor(&bt, Owner::Master, sidechains, false) {
                    bands.push(c);
                }
                // The band's envelopes name it by its place.
                for a in &mut self.automation[before..] {
                    a.param.band = bands.len().saturating_sub(1);
                }
            }
        }
        Some(MultibandConfig {
            crossovers_hz: crossovers,
            bands,
        })
    }
}

/// A crossover as the session file sets it, for the checks against its neighbours.
enum Corner<'v> {
    Fixed(f64),
    /// An envelope, and where it is written.
    Moving(Envelope, &'v Val<'v>),
}

/// Neighbouring crossovers must ascend by more than this ratio (a third of an octave, as the
/// session file's key table says, rounded down to 1.25).
const CROSSOVER_RATIO: f64 = 1.25;

/// Points checked between two breakpoints where a curve is `smooth` (the spacing of a raised
/// cosine against another curve can be closest between points).
const SMOOTH_PROBES: usize = 64;

impl Corner<'_> {
    fn envelope(&self) -> Option<&Envelope> {
        match self {
            Corner::Fixed(_) => None,
            Corner::Moving(e, _) => Some(e),
        }
    }

    /// The frequency at song time `t` s, or just before it with `before`.
    fn at(&self, t: f64, before: bool) -> f64 {
        match self {
            Corner::Fixed(f) => *f,
            Corner::Moving(e, _) if before => e.value_before(t),
            Corner::Moving(e, _) => e.value_at(t),
        }
    }
}

/// The first song time at which crossover `above` is not more than [`CROSSOVER_RATIO`] above
/// `below`, with both frequencies there. Both are piecewise curves between the points of
/// either: where both are linear or step the spacing moves linearly between two consecutive
/// point times, so its extremes are at those times, checked on both sides of each (a jump);
/// where one is smooth it is probed between them as well.
fn first_crossing(below: &Corner<'_>, above: &Corner<'_>) -> Option<(f64, f64, f64)> {
    let mut times: Vec<f64> = [below, above]
        .iter()
        .filter_map(|c| c.envelope())
        .flat_map(|e| e.points.iter().map(|&(t, _)| t))
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let smooth = [below, above]
        .iter()
        .filter_map(|c| c.envelope())
        .any(|e| e.curve == Curve::Smooth);
    let apart = |t: f64, before: bool| {
        let (lo, hi) = (below.at(t, before), above.at(t, before));
        (hi <= lo * CROSSOVER_RATIO).then_some((t, lo, hi))
    };
    let mut prev: Option<f64> = None;
    for &t in &times {
        if let Some(t0) = prev.filter(|_| smooth) {
            for j in 1..SMOOTH_PROBES {
                let u = t0 + (t - t0) * j as f64 / SMOOTH_PROBES as f64;
                if let Some(hit) = apart(u, false) {
                    return Some(hit);
                }
            }
        }
        if let Some(hit) = apart(t, true).or_else(|| apart(t, false)) {
            return Some(hit);
        }
        prev = Some(t);
    }
    None
}

/// The point of `e` nearest song time `t` (the first of equals).
fn nearest_point(e: &Envelope, t: f64) -> usize {
    let mut best = 0;
    for (j, &(pt, _)) in e.points.iter().enumerate() {
        if (pt - t).abs() < (e.points[best].0 - t).abs() {
            best = j;
        }
    }
    best
}

impl Validator<'_> {
    /// Crossovers `i` (`below`) and `i + 1` (`above`, written at `above_val`) of the list at
    /// `path` must ascend at least a third of an octave apart at every time. Two numbers: one
    /// error at the upper one. With an envelope: one error at the first time they come too
    /// close, located at the point (of the envelope that has a point then, else the upper
    /// one's) nearest that time, naming both frequencies there and the limit.
    fn check_spacing(
        &mut self,
        path: &str,
        i: usize,
        below: &Corner<'_>,
        above: &Corner<'_>,
        above_val: &Val<'_>,
    ) {
        if let (Corner::Fixed(lo), Corner::Fixed(hi)) = (below, above) {
            if *hi <= lo * CROSSOVER_RATIO {
                self.d.bad_value(
                    &above_val.span(),
                    &format!("{path}[{}]", i + 1),
                    format!(
                        "must be ascending and at least a third of an octave above {} Hz",
                        fmt_num(*lo)
                    ),
                );
            }
            return;
        }
        let Some((t, lo, hi)) = first_crossing(below, above) else {
            return;
        };
        let has_point_at = |c: &Corner<'_>| {
            c.envelope()
                .is_some_and(|e| e.points.iter().any(|&(pt, _)| pt == t))
        };
        // Blame the lower crossover only when it alone moves there.
        let blame_below = match (below, above) {
            (Corner::Moving(..), Corner::Fixed(_)) => true,
            (Corner::Moving(..), Corner::Moving(..)) => has_point_at(below) && !has_point_at(above),
            _ => false,
        };
        let (k, other, c, here, there, side, limit) = if blame_below {
            (i, i + 1, below, lo, hi, "below", hi / CROSSOVER_RATIO)
        } else {
            (i + 1, i, above, hi, lo, "above", lo * CROSSOVER_RATIO)
        };
        let problem = format!(
            "at {} s this crossover is {} Hz and crossovers_hz[{other}] {} Hz: it must stay \
             {side} {} Hz (ascending, at least a third of an octave apart)",
            fmt_num(t),
            fmt_num(here),
            fmt_num(there),
            fmt_num(limit)
        );
        let Corner::Moving(e, v) = c else {
            return;
        };
        let j = nearest_point(e, t);
        let span = point_value_span(v, j).unwrap_or_else(|| v.span());
        self.d.bad_value_help(
            &span,
            &format!("{path}[{k}].points[{j}][1]"),
            problem,
            format!(
                "move the points of crossovers_hz[{k}] or crossovers_hz[{other}] so the two \
                 never come within a ratio of {} of each other",
                fmt_num(CROSSOVER_RATIO)
            ),
        );
    }
}

/// The key that names an fx entry's processor.
const TYPE: &str = match keys::track::FX.ty {
    Ty::Tagged { tag, .. } => tag,
    _ => panic!("fx is a tagged array"),
};

/// The key that names an EQ band's kind.
const KIND: &str = match k::eq::BANDS.ty {
    Ty::Tagged { tag, .. } => tag,
    _ => panic!("eq bands are a tagged array"),
};
