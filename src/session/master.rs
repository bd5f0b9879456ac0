//! `[master]`: its fx chain, reference matching, the loudness target (with presets) and the
//! song's fades.

use super::diag::Diags;
use super::fx::Owner;
use super::keys;
use super::model::{Master, MasterFades, Reference, Target};
use super::validate::Validator;
use super::walk::{Tbl, or_list};
use crate::dsp::fade::FadeCurve;

pub(super) fn master(v: &mut Validator<'_>, m: &Tbl<'_, '_>) -> Master {
    use keys::reference as k;
    m.check_section(&mut v.d, &keys::master::SECTION, &[]);
    let mut sc = Vec::new();
    let fx = v.fx_chain(m, Owner::Master, &mut sc);
    let reference = m
        .table(&mut v.d, keys::master::REFERENCE.name)
        .and_then(|r| {
            r.check_section(&mut v.d, &k::SECTION, &[]);
            r.require(&mut v.d, k::FILE.name, "the reference track to match");
            let amount = r.num_of(&mut v.d, &k::AMOUNT);
            let (mut eq, mut loudness, mut width) = (true, true, true);
            if let Some(items) = r.array(&mut v.d, k::MATCH.name) {
                (eq, loudness, width) = (false, false, false);
                let [eq_name, loudness_name, width_name] = k::MATCH_CHOICES;
                for (i, it) in items.iter().enumerate() {
                    let p = format!("{}[{i}]", r.key_path(k::MATCH.name));
                    match it.get_ref() {
                        toml::de::DeValue::String(s) if s == eq_name => eq = true,
                        toml::de::DeValue::String(s) if s == loudness_name => loudness = true,
                        toml::de::DeValue::String(s) if s == width_name => width = true,
                        _ => {
                            let quoted: Vec<String> = k::MATCH_CHOICES
                                .iter()
                                .map(|c| format!("\"{c}\""))
                                .collect();
                            v.d.bad_value(&it.span(), &p, format!("must be {}", or_list(&quoted)))
                        }
                    }
                }
            }
            let s = r.str(&mut v.d, k::FILE.name)?;
            let file = v.input_file(&s, &r.key_path(k::FILE.name), true)?;
            Some(Reference {
                file,
                amount,
                eq,
                loudness,
                width,
            })
        });
    let target = m
        .table(&mut v.d, keys::master::TARGET.name)
        .and_then(|t| target(&mut v.d, &t));
    let fades = MasterFades {
        fade_in_s: m.num_of(&mut v.d, &keys::master::FADE_IN_S),
        fade_out_s: m.num_of(&mut v.d, &keys::master::FADE_OUT_S),
        curve: m
            .choice_of(&mut v.d, &keys::master::FADE_CURVE)
            .and_then(|c| FadeCurve::from_name(&c.v))
            .unwrap_or_default(),
    };
    Master {
        fx,
        reference,
        target,
        fades,
    }
}

pub use keys::target::PRESETS;

/// A `target` table (`{ lufs, ceiling_dbtp, tolerance_lu }` or `{ preset }`), in a session's
/// `[master]` or an album's `[album]`.
pub(super) fn target(d: &mut Diags<'_>, t: &Tbl<'_, '_>) -> Option<Target> {
    use keys::target as k;
    t.check_section(d, &k::SECTION, &[]);
    let preset = t.choice_of(d, &k::PRESET);
    let base = preset
        .as_ref()
        .and_then(|p| PRESETS.iter().find(|x| x.0 == p.v));
    if base.is_none() && !t.has(k::PRESET.name) {
        t.require(
            d,
            k::LUFS.name,
            "the integrated loudness target, e.g. lufs = -14.0, or preset = \"spotify\"",
        );
    }
    // Without a preset `lufs` is required: the first preset's figure only lets validation go
    // on after that error.
    let lufs = t
        .opt_num_of(d, &k::LUFS)
        .unwrap_or(base.unwrap_or(&PRESETS[0]).1);
    let ceiling_dbtp = t
        .opt_num_of(d, &k::CEILING_DBTP)
        .or(base.map(|b| b.2))
        .or(k::CEILING_DBTP.num_default())
        .unwrap_or_default();
    let tolerance_lu = t.num_of(d, &k::TOLERANCE_LU);
    Some(Target {
        lufs,
        ceiling_dbtp,
        tolerance_lu,
        preset: preset.map(|p| p.v),
    })
}
