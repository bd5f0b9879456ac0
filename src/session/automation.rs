//! Envelopes in the session file: a key that takes a number may instead take
//! `{ points = [[time, value], ...], curve = "linear" | "smooth" | "step" }`, times in seconds or
//! `"bar:beat"` strings at `[session].tempo_bpm`. Every point is checked against the key's own
//! range; times may not go backwards.

use crate::dsp::envelope::{Automation, Curve, Envelope, ParamId, ParamKey};

use super::keys::{Key, Ty};
use super::validate::Validator;
use super::walk::{Tbl, Val, as_table, fmt_num, number, range_text, type_name};
use toml::de::DeValue;

/// Latest time a point may have, s (the longest song: offsets reach 3600 s, regions 86 400 s).
const MAX_TIME_S: f64 = 90_000.0;

/// The check every point's value must pass: `Err(problem, help)` names the limit.
pub(super) type Check<'c> = &'c dyn Fn(f64) -> Result<(), (String, Option<String>)>;

/// A range check in the words of [`range_text`].
pub(super) fn in_range(
    lo: f64,
    hi: f64,
    unit: &str,
) -> impl Fn(f64) -> Result<(), (String, Option<String>)> {
    let unit = unit.to_string();
    move |x| {
        if x >= lo && x <= hi {
            Ok(())
        } else {
            Err((range_text(lo, hi, &unit), None))
        }
    }
}

/// The check of a frequency's envelope values: at least `lo` Hz and below the session file's
/// Nyquist frequency `ny` Hz (at the sample rate `rate`, as messages print it).
pub(super) fn hz_check(
    lo: f64,
    ny: f64,
    rate: String,
) -> impl Fn(f64) -> Result<(), (String, Option<String>)> {
    move |x: f64| {
        if x >= ny {
            Err((
                format!("must be below {} Hz (Nyquist at {rate})", fmt_num(ny)),
                Some("lower it, or raise [session].sample_rate".to_string()),
            ))
        } else if x < lo {
            Err((format!("must be at least {} Hz", fmt_num(lo)), None))
        } else {
            Ok(())
        }
    }
}

/// The span of the value of point `i` of an envelope written at `v` (one that read without
/// problems), for messages about that point.
pub(super) fn point_value_span(v: &Val<'_>, i: usize) -> Option<super::diag::Span> {
    let DeValue::Table(t) = v.get_ref() else {
        return None;
    };
    let DeValue::Array(points) = t.get("points")?.get_ref() else {
        return None;
    };
    match points.get(i)?.get_ref() {
        DeValue::Array(pair) => pair.get(1).map(|x| x.span()),
        _ => None,
    }
}

/// Whether a value is written as an envelope (a table).
pub(super) fn is_envelope(v: &Val<'_>) -> bool {
    matches!(v.get_ref(), DeValue::Table(_))
}

impl Validator<'_> {
    /// A number, or an envelope whose values pass `check`: the number (or the envelope's first
    /// value, what the render starts from) and the envelope. Absent gives `default`.
    pub(super) fn num_or_envelope(&mut self, t: &Tbl<'_, '_>, k: &Key) -> (f64, Option<Envelope>) {
        let default = k.num_default().unwrap_or(0.0);
        match t.get(k.name) {
            Some(v) if is_envelope(v) => {
                let (lo, hi) = k.range().unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
                let check = in_range(lo, hi, k.unit);
                match self.envelope(t, k.name, &check) {
                    Some(e) => (e.first(), Some(e)),
                    None => (default, None),
                }
            }
            _ => (t.opt_num_of(&mut self.d, k).unwrap_or(default), None),
        }
    }

    /// A processor parameter that may be automated (`param` names it to the processor, `k` in
    /// the key table): the number, or an envelope recorded for the processor being read (see
    /// [`Validator::take_automation`]) with its first value.
    pub(super) fn fx_param(&mut self, t: &Tbl<'_, '_>, param: ParamKey, k: &Key) -> f64 {
        debug_assert_eq!(param.name(), k.name);
        let (v, env) = self.num_or_envelope(t, k);
        if let Some(envelope) = env {
            self.automation.push(Automation {
                param: ParamId::new(param),
                envelope,
            });
        }
        v
    }

    /// Like [`Validator::fx_param`] for a key without a default: absent stays absent.
    pub(super) fn opt_fx_param(
        &mut self,
        t: &Tbl<'_, '_>,
        param: ParamKey,
        k: &Key,
    ) -> Option<f64> {
        if !t.has(k.name) {
            return None;
        }
        Some(self.fx_param(t, param, k))
    }

    /// A filter frequency (`param` names it to the processor, `k` in the key table): a number
    /// or an envelope, every value at least the key's lowest and below the session file's Nyquist
    /// frequency.
    pub(super) fn freq_param(&mut self, t: &Tbl<'_, '_>, key: ParamKey, k: &Key) -> f64 {
        debug_assert_eq!(key.name(), k.name);
        if !t.get(key.name()).is_some_and(is_envelope) {
            return self.freq(t, k);
        }
        let lo = match k.ty {
            Ty::Hz { lo } | Ty::HzEnvelope { lo } => lo,
            _ => 0.0,
        };
        let default = k.num_default().unwrap_or(lo);
        let ny = self.nyquist();
        let check = hz_check(lo, ny, self.rate_text());
        match self.envelope(t, key.name(), &check) {
            Some(envelope) => {
                let v = envelope.first();
                self.automation.push(Automation {
                    param: ParamId::new(key),
                    envelope,
                });
                v
            }
            None => default.min(ny * 0.9),
        }
    }

    /// The envelopes recorded since the last call (those of one processor).
    pub(super) fn take_automation(&mut self) -> Vec<Automation> {
        std::mem::take(&mut self.automation)
    }

    /// Read `t.key` as an envelope; every problem is recorded, `None` when there was one.
    pub(super) fn envelope(
        &mut self,
        t: &Tbl<'_, '_>,
        key: &str,
        check: Check<'_>,
    ) -> Option<Envelope> {
        let v = t.get(key)?;
        self.envelope_value(v, t.key_path(key), check)
    }

    /// Read `v`, named `path` in messages (a list item's `crossovers_hz[1]`), as an envelope;
    /// every problem is recorded, `None` when there was one.
    pub(super) fn envelope_value(
        &mut self,
        v: &Val<'_>,
        path: String,
        check: Check<'_>,
    ) -> Option<Envelope> {
        let et = as_table(&mut self.d, v, path)?;
        et.check_keys(&mut self.d, &["points", "curve"]);
        if !et.require(
            &mut self.d,
            "points",
            "an envelope needs points = [[time, value], ...]",
        ) {
            return None;
        }
        let curve = match et.get("curve") {
            None => Some(Curve::Linear),
            Some(_) => et
                .choice(&mut self.d, "curve", &Curve::NAMES)
                .and_then(|c| Curve::from_name(&c.v)),
        };
        let items = et.array(&mut self.d, "points")?;
        let ppath = et.key_path("points");
        if items.is_empty() {
            self.d.bad_value_help(
                &et.span_of("points"),
                &ppath,
                "an envelope needs at least one point",
                "write points = [[0.0, value]] for a constant, or give the key a number",
            );
            return None;
        }
        let mut ok = curve.is_some();
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            let p = format!("{ppath}[{i}]");
            let pair = match it.get_ref() {
                DeValue::Array(a) if a.len() == 2 => a,
                other => {
                    let found = match other {
                        DeValue::Array(a) => format!("{} values", a.len()),
                        o => type_name(o).to_string(),
                    };
                    self.d.bad_value_help(
                        &it.span(),
                        &p,
                        format!("expected a point [time, value], found {found}"),
                        "a point is two values: [seconds or \"bar:beat\", value]",
                    );
                    ok = false;
                    continue;
                }
            };
            let time = self.point_time(&pair[0], &format!("{p}[0]"));
            let value = self.point_value(&pair[1], &format!("{p}[1]"), check);
            match (time, value) {
                (Some(t0), Some(v)) => {
                    if let Some(&(prev, _)) = points.last()
                        && t0 < prev
                    {
                        self.d.bad_value_help(
                            &pair[0].span(),
                            &format!("{p}[0]"),
                            format!(
                                "times must not go backwards: {} s comes after {} s",
                                fmt_num(t0),
                                fmt_num(prev)
                            ),
                            "list the points in time order (two points at one time make a jump)",
                        );
                        ok = false;
                    }
                    points.push((t0, v));
                }
                _ => ok = false,
            }
        }
        Some(Envelope {
            points,
            curve: curve?,
        })
        .filter(|_| ok)
    }

    /// A point's time: seconds (0 or more), or `"bar:beat"` at the session file's tempo.
    fn point_time(&mut self, v: &Val<'_>, path: &str) -> Option<f64> {
        let span = v.span();
        let secs = match v.get_ref() {
            DeValue::String(s) => self.bar_beat(s, &span, path)?,
            DeValue::Integer(_) | DeValue::Float(_) => match number(v.get_ref()) {
                Some(x) if x.is_finite() => x,
                _ => {
                    self.d.bad_value(&span, path, "must be a finite number");
                    return None;
                }
            },
            other => {
                self.d.bad_value(
                    &span,
                    path,
                    format!(
                        "expected a time in seconds or \"bar:beat\", found {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        if !(0.0..=MAX_TIME_S).contains(&secs) {
            self.d
                .bad_value(&span, path, range_text(0.0, MAX_TIME_S, "s"));
            return None;
        }
        Some(secs)
    }

    /// `"bar:beat"` (both counted from 1, the beat may have a fraction) to seconds:
    /// `((bar - 1)·beats_per_bar + beat - 1)·60 / tempo_bpm`.
    fn bar_beat(&mut self, s: &str, span: &super::diag::Span, path: &str) -> Option<f64> {
        let parsed = s.split_once(':').and_then(|(b, x)| {
            let bar = b.trim().parse::<u32>().ok().filter(|&b| b >= 1)?;
            let beat = x.trim().parse::<f64>().ok().filter(|x| x.is_finite())?;
            Some((bar, beat))
        });
        let Some((bar, beat)) = parsed else {
            self.d.bad_value_help(
                span,
                path,
                "not a time",
                "give seconds (12.5) or \"bar:beat\", both from 1 (\"17:1\", \"17:2.5\")",
            );
            return None;
        };
        let per_bar = f64::from(self.beats_per_bar);
        if !(1.0..per_bar + 1.0).contains(&beat) {
            self.d.bad_value(
                span,
                path,
                format!(
                    "beat must be at least 1 and below {} ({} beats per bar)",
                    fmt_num(per_bar + 1.0),
                    self.beats_per_bar
                ),
            );
            return None;
        }
        let Some(bpm) = self.tempo_bpm else {
            self.d.bad_value_help(
                span,
                path,
                "a bar:beat time needs the tempo",
                "set [session].tempo_bpm, or give the time in seconds",
            );
            return None;
        };
        Some((f64::from(bar - 1) * per_bar + beat - 1.0) * 60.0 / bpm)
    }

    fn point_value(&mut self, v: &Val<'_>, path: &str, check: Check<'_>) -> Option<f64> {
        let span = v.span();
        let x = match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => number(v.get_ref()),
            other => {
                self.d.bad_value(
                    &span,
                    path,
                    format!("expected a number, found {}", type_name(other)),
                );
                return None;
            }
        };
        let Some(x) = x.filter(|x| x.is_finite()) else {
            self.d.bad_value(&span, path, "must be a finite number");
            return None;
        };
        match check(x) {
            Ok(()) => Some(x),
            Err((problem, Some(help))) => {
                self.d.bad_value_help(&span, path, problem, help);
                None
            }
            Err((problem, None)) => {
                self.d.bad_value(&span, path, problem);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::dsp::envelope::{Curve, ParamKey};
    use crate::session::validate::{LoadOptions, validate};

    fn session(body: &str) -> String {
        let stem =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/stems/impulse-48k-mono.wav");
        format!(
            "[session]\nname = \"t\"\ntempo_bpm = 120\nbeats_per_bar = 3\n[[track]]\nname = \"a\"\nfile = {:?}\n{body}\n",
            stem.display().to_string()
        )
    }

    #[test]
    fn bar_beat_times_count_from_one_at_the_session_tempo() {
        // 120 BPM: a beat is 0.5 s; 3 beats a bar.
        let text = session(
            "gain_db = { points = [[\"1:1\", -6.0], [\"2:1\", 0.0], [\"3:2.5\", -3.0], [4.0, -1.0]], curve = \"smooth\" }\n\
             fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 100.0, gain_db = 1.0 }, \
                   { kind = \"peak\", freq_hz = { points = [[0.0, 200.0], [\"1:3\", 400.0]] }, gain_db = 2.0 }] }]",
        );
        let s = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap();
        let t = &s.tracks[0];
        let env = t.auto.gain_db.as_ref().unwrap();
        assert_eq!(env.curve, Curve::Smooth);
        // "3:2.5" = ((3 - 1)·3 + 2.5 - 1)·0.5 s = 3.75 s.
        assert_eq!(
            env.points,
            vec![(0.0, -6.0), (1.5, 0.0), (3.75, -3.0), (4.0, -1.0)]
        );
        assert_eq!(t.gain_db, -6.0, "the number is the envelope's first value");
        // The second band's frequency, named by its band.
        let a = &t.fx[0].automation;
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].param.key, a[0].param.band), (ParamKey::FreqHz, 1));
        assert_eq!(a[0].envelope.points, vec![(0.0, 200.0), (1.0, 400.0)]);
    }

    /// A delay's time and loop filters, a de-esser's band and a width's crossover take
    /// envelopes; one on a filter the session file would leave out turns it on at its first value.
    #[test]
    fn delay_filter_and_crossover_frequencies_take_envelopes() {
        use crate::dsp::config::FxConfig;
        let text = session(
            "fx = [{ type = \"delay\", time_ms = { points = [[0.0, 250.0], [\"2:1\", 125.5]], curve = \"smooth\" }, \
                     highcut_hz = { points = [[0.0, 3000.0], [2.0, 12000.0]] } },\n\
                   { type = \"deesser\", freq_hz = { points = [[0.0, 5000.0], [1.0, 8000.0]] } },\n\
                   { type = \"width\", mono_below_hz = { points = [[0.0, 80.0], [1.0, 200.0]] } }]",
        );
        let s = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap();
        let fx = &s.tracks[0].fx;
        let keys = |i: usize| -> Vec<(ParamKey, Vec<(f64, f64)>)> {
            fx[i]
                .automation
                .iter()
                .map(|a| (a.param.key, a.envelope.points.clone()))
                .collect()
        };
        assert_eq!(
            keys(0),
            vec![
                (ParamKey::TimeMs, vec![(0.0, 250.0), (1.5, 125.5)]),
                (ParamKey::HighcutHz, vec![(0.0, 3000.0), (2.0, 12000.0)]),
            ]
        );
        let FxConfig::Delay(d) = &fx[0].config else {
            panic!("{:?}", fx[0].config)
        };
        assert_eq!(
            (d.time_ms, d.highcut_hz, d.lowcut_hz),
            (250.0, Some(3000.0), None)
        );
        assert_eq!(
            keys(1),
            vec![(ParamKey::FreqHz, vec![(0.0, 5000.0), (1.0, 8000.0)])]
        );
        assert_eq!(
            keys(2),
            vec![(ParamKey::MonoBelowHz, vec![(0.0, 80.0), (1.0, 200.0)])]
        );
        let FxConfig::Width(w) = &fx[2].config else {
            panic!("{:?}", fx[2].config)
        };
        assert_eq!(w.mono_below_hz, Some(80.0));
        // Every point is checked against the key's range and the Nyquist frequency.
        let text = session(
            "fx = [{ type = \"delay\", time_ms = 100.0, lowcut_hz = { points = [[0.0, 100.0], [1.0, 5.0]] } },\n\
                   { type = \"width\", mono_below_hz = { points = [[0.0, 80.0], [1.0, 30000.0]] } }]",
        );
        let e = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap_err();
        let all: Vec<String> = e.iter().map(|d| d.to_string()).collect();
        let all = all.join("\n");
        assert!(
            all.contains("lowcut_hz.points[1][1] = 5.0: must be at least 10 Hz"),
            "{all}"
        );
        assert!(
            all.contains("mono_below_hz.points[1][1] = 30000.0: must be below 24000 Hz"),
            "{all}"
        );
    }

    /// A multiband band's envelopes name their band; a reverb's decay, damping, width and
    /// predelay take envelopes, its model's default decay standing when `decay_s` is absent.
    #[test]
    fn band_and_reverb_envelopes_are_recorded() {
        let text = format!(
            "{}[[bus]]\nname = \"v\"\n\
             fx = [{{ type = \"reverb\", model = \"hall\", damping = {{ points = [[0.0, 0.2], [1.0, 0.9]] }}, \
                   width = {{ points = [[0.0, 1.0], [1.0, 0.0]] }}, predelay_ms = {{ points = [[0.0, 10.0], [2.0, 80.0]] }} }}, \
                   {{ type = \"reverb\", model = \"room\", decay_s = {{ points = [[0.0, 0.5], [1.0, 3.0]] }} }}]\n\
             [master]\nfx = [{{ type = \"multiband\", crossovers_hz = [200.0, 2000.0], bands = [{{}}, \
                   {{ threshold_db = {{ points = [[0.0, -10.0], [1.0, -30.0]] }} }}, \
                   {{ ratio = 2.0, makeup_db = {{ points = [[0.0, 0.0], [1.0, 3.0]] }} }}] }}]\n",
            session("")
        );
        let s = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap();
        let named = |fx: &crate::session::model::Fx| -> Vec<(ParamKey, usize, f64)> {
            fx.automation
                .iter()
                .map(|a| (a.param.key, a.param.band, a.envelope.first()))
                .collect()
        };
        let verb = &s.buses[0].fx;
        assert_eq!(
            named(&verb[0]),
            vec![
                (ParamKey::PredelayMs, 0, 10.0),
                (ParamKey::Damping, 0, 0.2),
                (ParamKey::Width, 0, 1.0),
            ]
        );
        assert_eq!(named(&verb[1]), vec![(ParamKey::DecayS, 0, 0.5)]);
        use crate::dsp::config::{FxConfig, ReverbKind};
        let FxConfig::Reverb(r) = &verb[0].config else {
            panic!("{:?}", verb[0].config)
        };
        // Hall's own default decay, the envelopes' first values.
        assert_eq!(r.predelay_ms, 10.0);
        let ReverbKind::Algorithmic {
            decay_s,
            damping,
            width,
            ..
        } = r.kind
        else {
            panic!()
        };
        assert_eq!((decay_s, damping, width), (2.5, 0.2, 1.0));
        assert_eq!(
            named(&s.master.fx[0]),
            vec![
                (ParamKey::ThresholdDb, 1, -10.0),
                (ParamKey::MakeupDb, 2, 0.0)
            ]
        );
    }

    /// Crossovers take envelopes, named to the multiband by their place, the number being the
    /// first value; a band's envelopes still name their band.
    #[test]
    fn crossover_envelopes_are_recorded_by_their_place() {
        use crate::dsp::config::FxConfig;
        let text = format!(
            "{}[master]\nfx = [{{ type = \"multiband\", crossovers_hz = [{{ points = [[0.0, 100.0], [1.0, 200.0]] }}, \
                   {{ points = [[0.0, 1000.0], [0.5, 8000.0]], curve = \"step\" }}, 12000.0], \
                   bands = [{{}}, {{ ratio = {{ points = [[0.0, 1.0], [1.0, 4.0]] }} }}, {{}}, {{}}] }}]\n",
            session("")
        );
        let s = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap();
        let fx = &s.master.fx[0];
        let FxConfig::Multiband(m) = &fx.config else {
            panic!("{:?}", fx.config)
        };
        assert_eq!(m.crossovers_hz, vec![100.0, 1000.0, 12000.0]);
        let named: Vec<(ParamKey, usize, f64)> = fx
            .automation
            .iter()
            .map(|a| (a.param.key, a.param.band, a.envelope.first()))
            .collect();
        assert_eq!(
            named,
            vec![
                (ParamKey::FreqHz, 0, 100.0),
                (ParamKey::FreqHz, 1, 1000.0),
                (ParamKey::Ratio, 1, 1.0)
            ]
        );
    }

    /// Every crossover envelope value must lie in 20 Hz .. Nyquist, and neighbours must ascend
    /// more than a third of an octave apart (a ratio of 1.25) at every time: at points, on
    /// both sides of a jump, and between points where a curve is smooth. Each error is located
    /// at a point and names both frequencies and the limit.
    #[test]
    fn crossover_envelopes_that_cross_or_come_close_are_located_errors() {
        let errors = |crossovers: &str| -> (usize, String) {
            let text = format!(
                "{}[master]\nfx = [{{ type = \"multiband\", crossovers_hz = [{crossovers}], bands = [{{}}, {{}}, {{}}] }}]\n",
                session("")
            );
            let e = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap_err();
            let all: Vec<String> = e.iter().map(|d| d.to_string()).collect();
            (all.len(), all.join("\n"))
        };
        let cases = [
            // The upper one comes down too close to a fixed lower one.
            (
                "200.0, { points = [[0.0, 1000.0], [1.0, 240.0]] }",
                "crossovers_hz[1].points[1][1] = 240.0: at 1 s this crossover is 240 Hz and \
                 crossovers_hz[0] 200 Hz: it must stay above 250 Hz",
            ),
            // The lower one rises into a fixed upper one: it is the one located.
            (
                "{ points = [[0.0, 100.0], [1.0, 900.0]] }, 1000.0",
                "crossovers_hz[0].points[1][1] = 900.0: at 1 s this crossover is 900 Hz and \
                 crossovers_hz[1] 1000 Hz: it must stay below 800 Hz",
            ),
            // Both move and cross at a point of the upper one, where the lower is in between.
            (
                "{ points = [[0.0, 100.0], [2.0, 1000.0]] }, \
                 { points = [[0.0, 2000.0], [1.0, 300.0], [2.0, 3000.0]] }",
                "crossovers_hz[1].points[1][1] = 300.0: at 1 s this crossover is 300 Hz and \
                 crossovers_hz[0] 550 Hz: it must stay above 687.5 Hz",
            ),
            // The lower one holds 500 Hz up to 1 s (a step) while the upper comes down to
            // 550 Hz there: too close just before the jump, though not at it.
            (
                "{ points = [[0.0, 500.0], [1.0, 100.0]], curve = \"step\" }, \
                 { points = [[0.0, 2000.0], [1.0, 550.0]] }",
                "crossovers_hz[1].points[1][1] = 550.0: at 1 s this crossover is 550 Hz and \
                 crossovers_hz[0] 500 Hz: it must stay above 625 Hz",
            ),
            // Fine at both points (ratios 1.5 and 2), too close between them (1.07 at 0.15 s),
            // where the smooth curve lags the linear one.
            (
                "{ points = [[0.0, 100.0], [1.0, 1000.0]] }, \
                 { points = [[0.0, 150.0], [1.0, 2000.0]], curve = \"smooth\" }",
                "crossovers_hz[1].points[0][1] = 150.0: at 0.",
            ),
            // Out of range, at the point.
            (
                "200.0, { points = [[0.0, 1000.0], [1.0, 30000.0]] }",
                "crossovers_hz[1].points[1][1] = 30000.0: must be below 24000 Hz (Nyquist at 48 kHz)",
            ),
            (
                "{ points = [[0.0, 100.0], [1.0, 10.0]] }, 1000.0",
                "crossovers_hz[0].points[1][1] = 10.0: must be at least 20 Hz",
            ),
        ];
        for (crossovers, want) in cases {
            let (count, all) = errors(crossovers);
            assert!(
                all.contains(want),
                "{crossovers}: expected {want:?} in\n{all}"
            );
            assert_eq!(count, 1, "one error per pair: {all}");
        }
        // Smooth curves that keep their distance pass: the same shape on both, a ratio of 2.
        let text = format!(
            "{}[master]\nfx = [{{ type = \"multiband\", crossovers_hz = [{{ points = [[0.0, 100.0], [1.0, 1000.0]], curve = \"smooth\" }}, \
                   {{ points = [[0.0, 200.0], [1.0, 2000.0]], curve = \"smooth\" }}], bands = [{{}}, {{}}, {{}}] }}]\n",
            session("")
        );
        assert!(validate(Path::new("s.toml"), &text, &LoadOptions::default()).is_ok());
    }

    #[test]
    fn beats_past_the_bar_are_errors() {
        let text = session("pan = { points = [[\"2:4\", 0.0]] }");
        let e = validate(Path::new("s.toml"), &text, &LoadOptions::default()).unwrap_err();
        assert!(
            e[0].to_string()
                .contains("beat must be at least 1 and below 4 (3 beats per bar)"),
            "{}",
            e[0]
        );
    }
}
