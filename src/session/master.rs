//! `[master]`: its fx chain, reference matching and the loudness target (with presets).

use super::diag::Diags;
use super::fx::Owner;
use super::model::{Master, Reference, Target};
use super::validate::Validator;
use super::walk::Tbl;

pub(super) fn master(v: &mut Validator<'_>, m: &Tbl<'_, '_>) -> Master {
    m.check_keys(&mut v.d, &["fx", "reference", "target"]);
    let mut sc = Vec::new();
    let fx = v.fx_chain(m, Owner::Master, &mut sc);
    let reference = m.table(&mut v.d, "reference").and_then(|r| {
        r.check_keys(&mut v.d, &["file", "amount", "match"]);
        r.require(&mut v.d, "file", "the reference track to match");
        let amount = r.num_in(&mut v.d, "amount", 0.5, 0.0, 1.0, "");
        let (mut eq, mut loudness, mut width) = (true, true, true);
        if let Some(items) = r.array(&mut v.d, "match") {
            (eq, loudness, width) = (false, false, false);
            for (i, it) in items.iter().enumerate() {
                let p = format!("{}[{i}]", r.key_path("match"));
                match it.get_ref() {
                    toml::de::DeValue::String(s) if s == "eq" => eq = true,
                    toml::de::DeValue::String(s) if s == "loudness" => loudness = true,
                    toml::de::DeValue::String(s) if s == "width" => width = true,
                    _ => {
                        v.d.bad_value(&it.span(), &p, "must be \"eq\", \"loudness\" or \"width\"")
                    }
                }
            }
        }
        let s = r.str(&mut v.d, "file")?;
        let file = v.input_file(&s, &r.key_path("file"), true)?;
        Some(Reference {
            file,
            amount,
            eq,
            loudness,
            width,
        })
    });
    let target = m
        .table(&mut v.d, "target")
        .and_then(|t| target(&mut v.d, &t));
    Master {
        fx,
        reference,
        target,
    }
}

/// Loudness presets: (name, integrated LUFS, true-peak ceiling dBTP).
pub const PRESETS: &[(&str, f64, f64)] = &[
    ("spotify", -14.0, -1.0),
    ("apple", -16.0, -1.0),
    ("youtube", -14.0, -1.0),
    ("tidal", -14.0, -1.0),
    ("amazon", -14.0, -2.0),
    ("deezer", -15.0, -1.0),
    ("ebu-r128", -23.0, -1.0),
    ("cd", -9.0, -0.3),
];

/// A `target` table (`{ lufs, ceiling_dbtp, tolerance_lu }` or `{ preset }`), in a session's
/// `[master]` or an album's `[album]`.
pub(super) fn target(d: &mut Diags<'_>, t: &Tbl<'_, '_>) -> Option<Target> {
    t.check_keys(d, &["lufs", "ceiling_dbtp", "tolerance_lu", "preset"]);
    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    let preset = t.choice(d, "preset", &names);
    let base = preset
        .as_ref()
        .and_then(|p| PRESETS.iter().find(|x| x.0 == p.v));
    if base.is_none() && !t.has("preset") {
        t.require(
            d,
            "lufs",
            "the integrated loudness target, e.g. lufs = -14.0, or preset = \"spotify\"",
        );
    }
    let lufs = t.num_in(d, "lufs", base.map_or(-14.0, |b| b.1), -40.0, -5.0, "LUFS");
    let ceiling_dbtp = t.num_in(
        d,
        "ceiling_dbtp",
        base.map_or(-1.0, |b| b.2),
        -12.0,
        0.0,
        "dBTP",
    );
    let tolerance_lu = t.num_in(d, "tolerance_lu", 0.5, 0.1, 3.0, "LU");
    Some(Target {
        lufs,
        ceiling_dbtp,
        tolerance_lu,
        preset: preset.map(|p| p.v),
    })
}
