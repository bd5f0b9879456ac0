//! Tracks and buses: their keys, where they send, and the loops their routing must not make
//! (buses feeding themselves, tracks keying each other's sidechains).

use super::diag::Span;
use super::fx::{Owner, SidechainRef};
use super::graph;
use super::keys::{self, Key};
use super::model::{Bus, Clip, Dest, MixAutomation, Region, Send, Track};
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

/// A track's or bus's `gain_db`, `pan` and `width` (numbers, or their envelopes' first values)
/// and the envelopes among them.
fn mixer(v: &mut Validator<'_>, t: &Tbl<'_, '_>) -> (f64, f64, f64, MixAutomation) {
    use keys::track as k;
    let mut auto = MixAutomation::default();
    let gain_db;
    let pan;
    let width;
    (gain_db, auto.gain_db) = v.num_or_envelope(t, &k::GAIN_DB);
    (pan, auto.pan) = v.num_or_envelope(t, &k::PAN);
    (width, auto.width) = v.num_or_envelope(t, &k::WIDTH);
    (gain_db, pan, width, auto)
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
    let has_regions = t.has(k::REGIONS.name);
    if has_regions {
        if t.has(k::FILE.name) {
            v.d.bad_value_help(
                &t.span_of(k::FILE.name),
                &t.key_path(k::FILE.name),
                "a track plays either `file` or `regions`, not both",
                "name the file in each region instead",
            );
        }
        for key in [
            &k::OFFSET_S,
            &k::START_S,
            &k::END_S,
            &k::FADE_IN_S,
            &k::FADE_OUT_S,
        ]
        .map(|k| k.name)
        {
            if t.has(key) {
                v.d.bad_value_help(
                    &t.span_of(key),
                    &t.key_path(key),
                    "a track with `regions` sets this in each region",
                    format!(
                        "move it into the regions (`{}` there)",
                        if key == "offset_s" { "at_s" } else { key }
                    ),
                );
            }
        }
    }
    let file = if has_regions {
        None
    } else if t.require(
        &mut v.d,
        k::FILE.name,
        "the stem to play, relative to the session file (or `regions`)",
    ) {
        t.str(&mut v.d, k::FILE.name).and_then(|s| {
            v.input_file(&s, &t.key_path(k::FILE.name), true)
                .map(|p| (p, s.v))
        })
    } else {
        None
    };
    let (gain_db, pan, width, mut auto) = mixer(v, t);
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
    let region = Region {
        start_s,
        end_s,
        fade_in_s,
        fade_out_s,
        fade_curve,
    };
    let (file, file_display, stem, regions) = if has_regions {
        let regions = regions(v, t, fade_curve)?;
        let first = regions.first()?.clone();
        (first.file, first.file_display, first.stem, regions)
    } else {
        let (file, file_display) = file?;
        let stem = v.stem_info(&file)?;
        check_region(v, t, &region, &stem);
        (file, file_display, stem, Vec::new())
    };
    let stereo = stem.channels == 2 || regions.iter().any(|c| c.stem.channels == 2);
    if !stereo && t.has(k::WIDTH.name) && (width != 1.0 || auto.width.is_some()) {
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
        region: if has_regions {
            Region::default()
        } else {
            region
        },
        regions,
        polarity_invert,
        muted: mute,
        solo,
        output,
        sends,
        fx,
        auto,
    })
}

/// `regions = [{ file, at_s, start_s, end_s, fade_in_s, fade_out_s, gain_db }, ...]`: each
/// region checked like a track's own region, then against its neighbours in time. Two regions
/// may overlap (a crossfade) only when the later one starts after and ends after the earlier
/// one, and no three may overlap at any moment; where a region's length is not known before
/// decoding (an MP3 without a LAME tag, no `end_s`), its overlaps are left to the render.
fn regions(v: &mut Validator<'_>, t: &Tbl<'_, '_>, curve: FadeCurve) -> Option<Vec<Clip>> {
    use keys::regions as r;
    let items = t.array(&mut v.d, keys::track::REGIONS.name)?;
    if items.is_empty() {
        v.d.bad_value_help(
            &t.span_of("regions"),
            &t.key_path("regions"),
            "an empty list: the track plays nothing",
            "add at least one { file, at_s } region, or remove the track",
        );
        return None;
    }
    let mut clips = Vec::new();
    // (index, span of at_s, start and end in the song when the length is known)
    let mut placed: Vec<(usize, Span, f64, Option<f64>)> = Vec::new();
    let mut ok = true;
    // Per clip: its index in `regions`, its span, its length in s when known.
    let (mut index, mut spans, mut lens) = (Vec::new(), Vec::new(), Vec::new());
    // Overlaps: (earlier region, later region, seconds).
    let mut cross: Vec<(usize, usize, f64)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(rt) = as_table(&mut v.d, item, format!("{}[{i}]", t.key_path("regions"))) else {
            ok = false;
            continue;
        };
        rt.check_section(&mut v.d, &r::SECTION, &[]);
        let file = if rt.require(&mut v.d, r::FILE.name, "the file this region plays") {
            rt.str(&mut v.d, r::FILE.name).and_then(|s| {
                v.input_file(&s, &rt.key_path(r::FILE.name), true)
                    .map(|p| (p, s.v))
            })
        } else {
            None
        };
        let at_s = rt.num_of(&mut v.d, &r::AT_S);
        let region = Region {
            start_s: rt.num_of(&mut v.d, &r::START_S),
            end_s: rt.opt_num_of(&mut v.d, &r::END_S),
            fade_in_s: rt.num_of(&mut v.d, &r::FADE_IN_S),
            fade_out_s: rt.num_of(&mut v.d, &r::FADE_OUT_S),
            fade_curve: curve,
        };
        let gain_db = rt.num_of(&mut v.d, &r::GAIN_DB);
        let Some((file, file_display)) = file else {
            ok = false;
            continue;
        };
        let Some(stem) = v.stem_info(&file) else {
            ok = false;
            continue;
        };
        check_region(v, &rt, &region, &stem);
        let len = region
            .end_s
            .or(stem.frames.map(|f| f as f64 / f64::from(stem.sample_rate)));
        let len = len.map(|e| (e - region.start_s).max(0.0));
        placed.push((i, rt.span_of("at_s"), at_s, len.map(|l| at_s + l)));
        index.push(i);
        spans.push(rt.span.clone());
        lens.push(len);
        clips.push(Clip {
            file,
            file_display,
            stem,
            at_s,
            region,
            gain_db,
        });
    }
    // Neighbours in time (ties in the order written).
    placed.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
    let path = |i: usize| format!("{}[{i}].at_s", t.key_path("regions"));
    for w in 0..placed.len() {
        let (i, ref span, at, _) = placed[w];
        let earlier = placed[..w].iter().filter(|p| p.3.is_none_or(|e| e > at));
        let earlier: Vec<_> = earlier.collect();
        let Some(&&(j, _, at_j, end_j)) = earlier.last() else {
            continue;
        };
        if earlier.len() >= 2 {
            let k = earlier[earlier.len() - 2].0;
            v.d.bad_value_help(
                span,
                &path(i),
                format!(
                    "three regions overlap at {at:.3} s (regions[{k}], regions[{j}] and this one)"
                ),
                "a crossfade joins two regions; move this region later, or end one of the others sooner",
            );
            ok = false;
            continue;
        }
        let end_i = placed[w].3;
        if at == at_j {
            v.d.bad_value_help(
                span,
                &path(i),
                format!("starts where regions[{j}] starts ({at:.3} s)"),
                "a crossfade needs one region to start later than the other",
            );
            ok = false;
        } else if let (Some(e_i), Some(e_j)) = (end_i, end_j)
            && e_i <= e_j
        {
            v.d.bad_value_help(
                span,
                &path(i),
                format!(
                    "lies within regions[{j}] ({at_j:.3} s to {e_j:.3} s): only the ends of two regions may overlap"
                ),
                format!("shorten regions[{j}] with its end_s, or move this region past its end"),
            );
            ok = false;
        } else if let Some(e_j) = end_j {
            cross.push((j, i, e_j - at));
        }
    }
    // A crossfade is at least as long as the overlap; longer explicit fades stay.
    for (n, c) in clips.iter().enumerate() {
        let (i, len) = (index[n], lens[n]);
        let x_in = cross
            .iter()
            .filter(|x| x.1 == i)
            .map(|x| x.2)
            .fold(0.0, f64::max);
        let x_out = cross
            .iter()
            .filter(|x| x.0 == i)
            .map(|x| x.2)
            .fold(0.0, f64::max);
        let (fade_in, fade_out) = (c.region.fade_in_s.max(x_in), c.region.fade_out_s.max(x_out));
        if let Some(len) = len
            && (x_in > 0.0 || x_out > 0.0)
            && fade_in + fade_out > len + 1e-9
        {
            v.d.bad_value_help(
                &spans[n],
                &format!("{}[{i}]", t.key_path("regions")),
                format!(
                    "its fades with the crossfades ({fade_in:.3} s in, {fade_out:.3} s out) are longer than the region ({len:.3} s)"
                ),
                "shorten the fades or the overlaps",
            );
            ok = false;
        }
    }
    ok.then_some(clips)
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
    use keys::bus as k;
    let t = &labelled(t, &v.bus_names[i].clone());
    t.check_section(&mut v.d, &k::SECTION, &[]);
    let (gain_db, pan, width, mut auto) = mixer(v, t);
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
