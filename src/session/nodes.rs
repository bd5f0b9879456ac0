//! Tracks and buses: their keys, where they send, and the loops their routing must not make
//! (buses feeding themselves, tracks keying each other's sidechains).

use super::diag::Span;
use super::fx::{Owner, SidechainRef};
use super::graph;
use super::keys::{self, Key};
use super::model::{Bus, Dest, MixAutomation, Region, Send, Track};
use super::validate::{Validator, labelled};
use super::walk::{Tbl, as_table};
use crate::dsp::fade::FadeCurve;
use crate::io::decode::StemInfo;

pub(super) fn dest(v: &mut Validator<'_>, t: &Tbl<'_, '_>, k: &Key) -> Dest {
    let key = k.name;
    let Some(s) = t.str(&mut v.d, key) else {
        return Dest::Master;
    };
    if s.v == "master" {
        return Dest::Master;
    }
    match v.bus_names.iter().position(|b| *b == s.v) {
        Some(i) => Dest::Bus(i),
        None => {
            let mut known = vec!["master".to_string()];
            known.extend(v.bus_names.iter().cloned());
            let help = v.name_hint(&s.v, &known, "destination");
            v.d.bad_value_help(&s.span, &t.key_path(key), "no bus has this name", help);
            Dest::Master
        }
    }
}

/// The sends of a track or bus; envelopes on their levels go into `auto`.
fn sends(
    v: &mut Validator<'_>,
    t: &Tbl<'_, '_>,
    auto: &mut MixAutomation,
) -> Vec<(Send, Span, String)> {
    use keys::sends as k;
    let Some(items) = t.array(&mut v.d, keys::track::SENDS.name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", t.key_path(keys::track::SENDS.name));
        let Some(st) = as_table(&mut v.d, item, path) else {
            continue;
        };
        st.check_section(&mut v.d, &k::SECTION, &[]);
        if !st.require(&mut v.d, k::BUS.name, "the bus this send feeds") {
            continue;
        }
        let (level_db, level_env) = v.num_or_envelope(&st, &k::LEVEL_DB);
        let pre_fader = st.bool_of(&mut v.d, &k::PRE_FADER);
        let Some(s) = st.str(&mut v.d, k::BUS.name) else {
            continue;
        };
        match v.bus_names.iter().position(|b| *b == s.v) {
            Some(bus) => {
                if let Some(e) = level_env {
                    auto.sends.push((out.len(), e));
                }
                out.push((
                    Send {
                        bus,
                        level_db,
                        pre_fader,
                    },
                    s.span.clone(),
                    st.key_path(k::BUS.name),
                ))
            }
            None => {
                let help = v.name_hint(&s.v, &v.bus_names.clone(), "bus");
                let help = if s.v == "master" {
                    "the master is fed by `output`; sends go to buses".to_string()
                } else {
                    help
                };
                v.d.bad_value_help(
                    &s.span,
                    &st.key_path(k::BUS.name),
                    "no bus has this name",
                    help,
                );
            }
        }
    }
    out
}

pub(super) fn track(
    v: &mut Validator<'_>,
    t: &Tbl<'_, '_>,
    i: usize,
    sc: &mut Vec<SidechainRef>,
) -> Option<Track> {
    use keys::track as k;
    let t = &labelled(t, &v.track_names[i].clone());
    t.check_section(&mut v.d, &k::SECTION, &[]);
    let file = if t.require(
        &mut v.d,
        k::FILE.name,
        "the stem to play, relative to the session file",
    ) {
        t.str(&mut v.d, k::FILE.name).and_then(|s| {
            v.input_file(&s, &t.key_path(k::FILE.name), true)
                .map(|p| (p, s.v))
        })
    } else {
        None
    };
    let mut auto = MixAutomation::default();
    let gain_db;
    let pan;
    let width;
    (gain_db, auto.gain_db) = v.num_or_envelope(t, &k::GAIN_DB);
    (pan, auto.pan) = v.num_or_envelope(t, &k::PAN);
    (width, auto.width) = v.num_or_envelope(t, &k::WIDTH);
    let offset_s = t.num_of(&mut v.d, &k::OFFSET_S);
    let start_s = t.num_of(&mut v.d, &k::START_S);
    let end_s = t.opt_num_of(&mut v.d, &k::END_S);
    let fade_in_s = t.num_of(&mut v.d, &k::FADE_IN_S);
    let fade_out_s = t.num_of(&mut v.d, &k::FADE_OUT_S);
    let fade_curve = t
        .choice_of(&mut v.d, &k::FADE_CURVE)
        .and_then(|c| FadeCurve::from_name(&c.v))
        .unwrap_or_default();
    let polarity_invert = t.bool_of(&mut v.d, &k::POLARITY_INVERT);
    let mute = t.bool_of(&mut v.d, &k::MUTE);
    let solo = t.bool_of(&mut v.d, &k::SOLO);
    let output = dest(v, t, &k::OUTPUT);
    let sends = sends(v, t, &mut auto)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    let fx = v.fx_chain(t, Owner::Track(i), sc);
    let (file, file_display) = file?;
    let stem = v.stem_info(&file)?;
    let region = Region {
        start_s,
        end_s,
        fade_in_s,
        fade_out_s,
        fade_curve,
    };
    check_region(v, t, &region, &stem);
    if stem.channels == 1 && t.has(k::WIDTH.name) && (width != 1.0 || auto.width.is_some()) {
        v.d.bad_value_help(
            &t.span_of(k::WIDTH.name),
            &t.key_path(k::WIDTH.name),
            "width needs a stereo stem, and this stem is mono",
            "place a mono stem with pan, or remove width",
        );
    }
    Some(Track {
        name: v.track_names[i].clone(),
        file,
        file_display,
        stem,
        gain_db,
        pan,
        width,
        offset_s,
        region,
        polarity_invert,
        muted: mute,
        solo,
        output,
        sends,
        fx,
        auto,
    })
}

/// A region must lie inside its stem (when the header states the stem's length) and hold its
/// fades.
fn check_region(v: &mut Validator<'_>, t: &Tbl<'_, '_>, r: &Region, stem: &StemInfo) {
    let stem_s = stem.frames.map(|f| f as f64 / f64::from(stem.sample_rate));
    let fmt_s = |s: f64| format!("{s:.3} s");
    if let Some(len) = stem_s
        && r.start_s >= len
        && t.has("start_s")
    {
        v.d.bad_value(
            &t.span_of("start_s"),
            &t.key_path("start_s"),
            format!("starts at or after the end of the stem ({})", fmt_s(len)),
        );
        return;
    }
    if let Some(end) = r.end_s {
        if end <= r.start_s {
            v.d.bad_value(
                &t.span_of("end_s"),
                &t.key_path("end_s"),
                format!("must be after start_s ({})", fmt_s(r.start_s)),
            );
            return;
        }
        if let Some(len) = stem_s
            && end > len + 0.5 / f64::from(stem.sample_rate)
        {
            v.d.bad_value_help(
                &t.span_of("end_s"),
                &t.key_path("end_s"),
                format!("is past the end of the stem ({})", fmt_s(len)),
                "leave end_s out to play the stem to its end",
            );
            return;
        }
    }
    let region_s = r.end_s.or(stem_s).map(|e| e - r.start_s);
    if let Some(len) = region_s
        && r.fade_in_s + r.fade_out_s > len + 1e-9
    {
        let key = if t.has("fade_out_s") {
            "fade_out_s"
        } else {
            "fade_in_s"
        };
        v.d.bad_value(
            &t.span_of(key),
            &t.key_path(key),
            format!(
                "fade_in_s + fade_out_s ({}) is longer than the region ({})",
                fmt_s(r.fade_in_s + r.fade_out_s),
                fmt_s(len)
            ),
        );
    }
}

pub(super) fn bus(
    v: &mut Validator<'_>,
    t: &Tbl<'_, '_>,
    sc: &mut Vec<SidechainRef>,
    edges: &mut Vec<(usize, usize, Span, String)>,
    i: usize,
) -> Option<Bus> {
    use keys::{bus as k, track};
    let t = &labelled(t, &v.bus_names[i].clone());
    t.check_section(&mut v.d, &k::SECTION, &[]);
    let mut auto = MixAutomation::default();
    let gain_db;
    let pan;
    let width;
    (gain_db, auto.gain_db) = v.num_or_envelope(t, &track::GAIN_DB);
    (pan, auto.pan) = v.num_or_envelope(t, &track::PAN);
    (width, auto.width) = v.num_or_envelope(t, &track::WIDTH);
    let muted = t.bool_of(&mut v.d, &k::MUTE);
    let output = dest(v, t, &k::OUTPUT);
    if let Dest::Bus(b) = output {
        edges.push((i, b, t.span_of(k::OUTPUT.name), t.key_path(k::OUTPUT.name)));
    }
    let mut out_sends = Vec::new();
    for (s, span, path) in sends(v, t, &mut auto) {
        edges.push((i, s.bus, span, path));
        out_sends.push(s);
    }
    let fx = v.fx_chain(t, Owner::Bus, sc);
    Some(Bus {
        name: v.bus_names[i].clone(),
        gain_db,
        pan,
        width,
        muted,
        output,
        sends: out_sends,
        fx,
        auto,
    })
}

/// Report every loop in the bus graph (outputs and sends), once, at the edge that closes it.
pub(super) fn bus_cycles(v: &mut Validator<'_>, edges: &[(usize, usize, Span, String)]) {
    let plain: Vec<(usize, usize)> = edges.iter().map(|e| (e.0, e.1)).collect();
    for (cycle, ei) in graph::cycles(v.bus_names.len(), &plain) {
        let mut names: Vec<String> = cycle
            .iter()
            .map(|&b| format!("bus \"{}\"", v.bus_names[b]))
            .collect();
        names.push(format!("bus \"{}\"", v.bus_names[cycle[0]]));
        let (_, _, span, path) = &edges[ei];
        v.d.bad_value_help(
            span,
            path,
            format!("makes a routing loop: {}", names.join(" -> ")),
            "a bus cannot feed itself, directly or through other buses; route one of them elsewhere",
        );
    }
}

/// A sidechain key must be rendered before the track it keys: no loops among tracks.
pub(super) fn sidechain_cycles(v: &mut Validator<'_>, refs: &[(usize, SidechainRef)]) {
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); v.track_names.len()];
    for (keyed, r) in refs {
        deps[*keyed].push(r.key_track);
    }
    for (keyed, r) in refs {
        // Does the key track (transitively) depend on the keyed track?
        if graph::reaches(&deps, r.key_track, *keyed) {
            v.d.bad_value_help(
                &r.span,
                &r.path,
                format!(
                    "sidechain loop: track \"{}\" is keyed, directly or indirectly, by track \"{}\"",
                    v.track_names[r.key_track], v.track_names[*keyed]
                ),
                "two tracks cannot key each other",
            );
        }
    }
}
