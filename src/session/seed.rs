//! The dither seed of a session: a hash of what in the resolved session shapes the audio,
//! so the same mix gives the same bytes however its file is written (comments, spacing, key
//! order, inline tables or `[[track.fx]]`, `-3` or `-3.0`, a default written out or left out),
//! while any change to the sound (a level, a pan, a processor setting, a stem, an output's rate
//! or dither) gives other dither.
//!
//! Left out because they do not shape the samples: names (of the song, tracks and buses; a
//! track is known by its place), output paths, the report, metadata. Paths of inputs are taken
//! relative to the session's folder, so a checkout anywhere gives the same bytes.

use std::fmt::Write as _;
use std::path::Path;

use super::model::{Fx, MixAutomation, Session};
use super::paths::{fnv1a, relative};
use crate::dsp::config::{FxConfig, ReverbConfig, ReverbKind};
use crate::io::decode::StemInfo;

/// The dither seed of `s` (each output derives its own stream from it).
pub fn dither_seed(s: &Session) -> u64 {
    fnv1a(fingerprint(s).as_bytes())
}

/// The text that is hashed: one line per element, in session order. `Debug` formatting of the
/// resolved values is exact (shortest round-trip floats) and the same on every platform.
fn fingerprint(s: &Session) -> String {
    let dir = s.file.parent().unwrap_or(Path::new(""));
    let rel = |p: &Path| relative(dir, p);
    let fx = |f: &[Fx]| fx_text(dir, f);
    // A stem or region file: where it is and what it holds.
    let file = |p: &Path, st: &StemInfo| {
        format!(
            "{:?} {} {} {:?} {:?}",
            rel(p),
            st.sample_rate,
            st.channels,
            st.frames,
            st.format
        )
    };
    let mut w = String::new();
    let _ = writeln!(
        w,
        "mixdown dither seed v1\nrate {} tail {:?} tempo {:?}",
        s.sample_rate, s.tail, s.tempo_bpm
    );
    for t in &s.tracks {
        let _ = writeln!(
            w,
            "track {} gain {:?} pan {:?} width {:?} offset {:?} polarity {} muted {} to {:?} sends {:?} fx [{}]",
            file(&t.file, &t.stem),
            t.gain_db,
            t.pan,
            t.width,
            t.offset_s,
            t.polarity_invert,
            t.muted,
            t.output,
            t.sends,
            fx(&t.fx)
        );
        // Only when set, so session files without regions keep their seeds (and bytes).
        if !t.region.is_whole() {
            let _ = writeln!(w, "region {:?}", t.region);
        }
        for c in &t.regions {
            let _ = writeln!(
                w,
                "clip {} at {:?} gain {:?} {:?}",
                file(&c.file, &c.stem),
                c.at_s,
                c.gain_db,
                c.region
            );
        }
        automation(&mut w, &t.auto, &t.fx);
    }
    for b in &s.buses {
        let _ = writeln!(
            w,
            "bus gain {:?} pan {:?} width {:?} muted {} to {:?} sends {:?} fx [{}]",
            b.gain_db,
            b.pan,
            b.width,
            b.muted,
            b.output,
            b.sends,
            fx(&b.fx)
        );
        automation(&mut w, &b.auto, &b.fx);
    }
    let m = &s.master;
    let _ = writeln!(w, "master fx [{}]", fx(&m.fx));
    automation(&mut w, &MixAutomation::default(), &m.fx);
    // Only when set, so session files without master fades keep their seeds (and bytes).
    if m.fades.is_set() {
        let _ = writeln!(w, "master fades {:?}", m.fades);
    }
    if let Some(r) = &m.reference {
        let _ = writeln!(
            w,
            "reference {:?} amount {:?} eq {} loudness {} width {}",
            rel(&r.file),
            r.amount,
            r.eq,
            r.loudness,
            r.width
        );
    }
    if let Some(t) = &m.target {
        // The preset's name is a label; its values are what count.
        let _ = writeln!(
            w,
            "target {:?} ceiling {:?} tolerance {:?}",
            t.lufs, t.ceiling_dbtp, t.tolerance_lu
        );
    }
    for o in &s.outputs {
        let _ = writeln!(
            w,
            "output {} {:?} {:?}",
            o.sample_rate, o.encoding, o.dither
        );
    }
    w
}

/// A processor chain as text, impulse-response paths (inside the configs) relative to `dir`.
fn fx_text(dir: &Path, f: &[Fx]) -> String {
    f.iter()
        .map(|f| {
            let text = format!("{:?}", f.config);
            match &f.config {
                FxConfig::Reverb(ReverbConfig {
                    kind: ReverbKind::Convolution { ir },
                    ..
                }) => text.replace(&format!("{ir:?}"), &format!("{:?}", relative(dir, ir))),
                _ => text,
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The envelopes of a node and its processors, only when there are any, so session files without
/// automation keep their seeds (and bytes).
fn automation(w: &mut String, mix: &MixAutomation, fx: &[Fx]) {
    if !mix.is_empty() {
        let _ = writeln!(w, "automation {mix:?}");
    }
    for (i, f) in fx.iter().enumerate() {
        if !f.automation.is_empty() {
            let _ = writeln!(w, "fx {i} automation {:?}", f.automation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impulse_response_paths_are_relative_to_the_session() {
        let ir = |path: &str| Fx {
            config: FxConfig::Reverb(ReverbConfig {
                kind: ReverbKind::Convolution { ir: path.into() },
                predelay_ms: 0.0,
                mix: 1.0,
            }),
            path: String::new(),
            automation: Vec::new(),
        };
        let text = fx_text(
            Path::new("/some/where"),
            &[ir("/some/where/ir/hall.wav"), ir("/some/demo/plate.wav")],
        );
        assert!(text.contains("ir: \"ir/hall.wav\""), "{text}");
        assert!(text.contains("ir: \"../demo/plate.wav\""), "{text}");
        // The same session file checked out elsewhere gives the same text.
        assert_eq!(
            text,
            fx_text(
                Path::new("/x/y/where"),
                &[ir("/x/y/where/ir/hall.wav"), ir("/x/y/demo/plate.wav")],
            )
        );
    }
}
