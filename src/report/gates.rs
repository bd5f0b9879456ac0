//! Warnings and delivery gates: what a render must say about itself, and what fails it
//! (exit status 3). With `--strict`, every warning is also a failed gate.

use super::shown;
use crate::engine::MixStats;
use crate::master::target::MIN_SECONDS;
use crate::master::{Mastered, Premaster};
use crate::session::Session;

/// Warnings and failed gates of one render.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    pub warnings: Vec<String>,
    pub gate_failures: Vec<String>,
    /// The stable code of each warning, in the same order: `session_warning` (what validation
    /// found, such as a linear-phase band its filter cannot follow), `solo_on`, `stem_clipped`,
    /// `mix_clips`, `mix_headroom`, `target_skipped`, `heavy_limiting`.
    pub warning_codes: Vec<&'static str>,
    /// Every delivery gate evaluated, passed or failed, in order.
    pub gates: Vec<Gate>,
}

/// A delivery gate as evaluated on one output (or the whole render, for `--strict`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gate {
    /// Stable code: `clipped_samples`, `loudness_off_target`, `true_peak_over`, or
    /// `strict_warning`.
    pub code: &'static str,
    /// The output it judged (as shown), when it judged one.
    pub output: Option<String>,
    pub passed: bool,
    /// Why it failed.
    pub message: Option<String>,
}

/// Headroom the mix bus should leave for mastering, dBFS.
const MIX_HEADROOM_DBFS: f64 = -3.0;
/// Limiting beyond this (largest reduction, dB) is worth a warning.
const HEAVY_LIMITING_DB: f64 = 4.0;

/// What is worth a warning in the session itself, before anything renders (`check` prints
/// these too).
pub fn session_warnings(session: &Session) -> Vec<String> {
    // What validation found (linear-phase EQ bands beyond their filter), in file order.
    let mut warnings: Vec<String> = session.warnings.iter().map(|w| w.one_line()).collect();
    let soloed: Vec<String> = session
        .tracks
        .iter()
        .filter(|t| t.solo)
        .map(|t| format!("\"{}\"", t.name))
        .collect();
    if !soloed.is_empty() {
        let silenced = session.tracks.iter().filter(|t| !t.solo).count();
        warnings.push(format!(
            "solo is on for track{} {}: the {silenced} other track{} {} silent in this render; remove `solo = true` to render the whole mix",
            if soloed.len() == 1 { "" } else { "s" },
            soloed.join(", "),
            if silenced == 1 { "" } else { "s" },
            if silenced == 1 { "is" } else { "are" },
        ));
    }
    warnings
}

/// Warnings and failed delivery gates. With `strict`, every warning is also a gate.
pub fn verdicts(
    session: &Session,
    stats: &MixStats,
    pre: &Premaster,
    mastered: &Mastered,
    strict: bool,
) -> Verdicts {
    let mut warnings = session_warnings(session);
    let mut warning_codes: Vec<&'static str> = (0..warnings.len())
        .map(|i| match i < session.warnings.len() {
            true => "session_warning",
            false => "solo_on",
        })
        .collect();
    let mut gates = Vec::new();
    let mut checks: Vec<Gate> = Vec::new();
    for (t, st) in session.tracks.iter().zip(&stats.stems) {
        if st.source_clipped > 0 {
            warnings.push(format!(
                "track \"{}\": the stem {} holds {} samples at full scale: it was clipped before mixdown saw it",
                t.name, t.file_display, st.source_clipped
            ));
            warning_codes.push("stem_clipped");
        }
    }
    let m = &pre.mix_levels;
    let peak = m.sample_peak_dbfs.max(m.true_peak_dbtp);
    if m.clipped_samples > 0 {
        warnings.push(format!(
            "the mix bus entering the master clips: {} samples at or over full scale (true peak {:+.1} dBTP); trim the mix by at least {:.1} dB (faders or a gain on the master)",
            m.clipped_samples,
            m.true_peak_dbtp,
            peak - MIX_HEADROOM_DBFS
        ));
        warning_codes.push("mix_clips");
    } else if peak > MIX_HEADROOM_DBFS {
        warnings.push(format!(
            "the mix bus entering the master peaks at {peak:.1} dB (true peak {:.1} dBTP), above {MIX_HEADROOM_DBFS} dBFS: leave headroom for mastering; trim the mix by {:.1} dB",
            m.true_peak_dbtp,
            peak - MIX_HEADROOM_DBFS
        ));
        warning_codes.push("mix_headroom");
    }
    if let Some(why) = &mastered.target_skipped {
        warnings.push(why.clone());
        warning_codes.push("target_skipped");
    }
    if let (Some(t), Some(o)) = (&session.master.target, &mastered.target)
        && o.limiter.max_reduction_db > HEAVY_LIMITING_DB
    {
        warnings.push(format!(
            "reaching {} LUFS took up to {:.1} dB of limiting ({:.1} dB on average over the song): the master is being squashed; lower the target, or add compression or level in the mix",
            t.lufs, o.limiter.max_reduction_db, o.limiter.mean_reduction_db
        ));
        warning_codes.push("heavy_limiting");
    }
    let target = session.master.target.as_ref();
    for d in &mastered.deliveries {
        let path = shown(&d.path);
        let mut check = |gates: &mut Vec<String>, code: &'static str, from: usize| {
            checks.push(Gate {
                code,
                output: Some(path.clone()),
                passed: gates.len() == from,
                message: gates.get(from).cloned(),
            });
        };
        let from = gates.len();
        if d.encoded.clipped_samples > 0 {
            gates.push(format!(
                "{path}: {} samples clipped at quantization (peak {:.2} dBFS); lower the mix or set a [master].target",
                d.encoded.clipped_samples, d.levels.sample_peak_dbfs
            ));
        }
        check(&mut gates, "clipped_samples", from);
        if let Some(t) = target {
            let from = gates.len();
            let faded = if d.before_fades_lufs.is_some() {
                " before the master's fades"
            } else {
                ""
            };
            match d.gated_lufs() {
                Some(i) if loudness_ok(session, t, i) => {}
                // An album's gain leaves the quieter songs under the target, by design.
                Some(i) if session.album_gain => gates.push(format!(
                    "{path}: integrated loudness{faded} {i:.2} LUFS is {:.2} LU over the target {} LUFS with the album's gain (tolerance {} LU)",
                    i - t.lufs,
                    t.lufs,
                    t.tolerance_lu
                )),
                Some(i) => gates.push(format!(
                    "{path}: integrated loudness{faded} {i:.2} LUFS is {:.2} LU from the target {} LUFS (tolerance {} LU)",
                    (i - t.lufs).abs(),
                    t.lufs,
                    t.tolerance_lu
                )),
                // No integrated loudness: the output is shorter than one gating block, or
                // silent (every block under the absolute gate).
                None => {
                    let seconds = d.encoded.frames as f64 / f64::from(d.sample_rate);
                    gates.push(if seconds < MIN_SECONDS {
                        format!(
                            "{path}: {seconds:.2} s long, too short to measure integrated loudness (needs {MIN_SECONDS} s), so it cannot meet the target {} LUFS",
                            t.lufs
                        )
                    } else {
                        format!("{path}: silent, so it cannot meet the target {} LUFS", t.lufs)
                    })
                }
            }
            check(&mut gates, "loudness_off_target", from);
            let from = gates.len();
            if d.true_peak_dbtp > t.ceiling_dbtp {
                gates.push(format!(
                    "{path}: true peak {:.2} dBTP is over the ceiling {} dBTP",
                    d.true_peak_dbtp, t.ceiling_dbtp
                ));
            }
            check(&mut gates, "true_peak_over", from);
        }
    }
    if strict {
        for w in &warnings {
            let message = format!("--strict: {w}");
            checks.push(Gate {
                code: "strict_warning",
                output: None,
                passed: false,
                message: Some(message.clone()),
            });
            gates.push(message);
        }
    }
    Verdicts {
        warnings,
        gate_failures: gates,
        warning_codes,
        gates: checks,
    }
}

/// Whether an output's integrated loudness `i` passes the loudness gate: within the tolerance
/// of the target, or, with an album's gain, not over it by more than the tolerance.
pub fn loudness_ok(session: &Session, t: &crate::session::model::Target, i: f64) -> bool {
    match session.album_gain {
        true => i - t.lufs <= t.tolerance_lu,
        false => (i - t.lufs).abs() <= t.tolerance_lu,
    }
}
