//! The master's measure -> plan -> apply steps as files, so an album's songs can be measured
//! and delivered on different machines and still share one album gain.
//!
//! A [`MeasurementFile`] holds what the target stage decided for one song on its own (at each
//! delivery rate: the premaster's loudness and true peak, and the static gain that meets the
//! target at the ceiling, found by [`super::target::plan`]) and the SHA-256 of every input the
//! song was rendered from. [`plan_gains`] turns the songs' gains into the album's: with the
//! track policy each song keeps its own; with the album policy every song gets the gain of
//! the loudest one (the smallest of the songs' own gains), so the songs keep their loudness
//! relative to each other and each song's limiter still holds the ceiling. A [`PlanFile`]
//! carries those gains with what the album sets for each song (tags, target, seams), and
//! `render --plan` applies one song of it without searching anything: the same code path as
//! `mixdown album` on one machine, so the same bytes.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dsp::limiter::LimiterStats;
use crate::session::album::{Policy, SongSettings};
use crate::session::model::{Session, Target};

use crate::dsp::db::{db_to_power, gain_to_db};

use super::RatePlan;
use super::target::{GainPlan, Measurement};

/// Version of the measurement and plan files' layout.
pub const SCHEMA_VERSION: u32 = 1;
/// `kind` of a measurement file.
pub const MEASUREMENT_KIND: &str = "mixdown-measurement";
/// `kind` of a plan file.
pub const PLAN_KIND: &str = "mixdown-album-plan";

/// One input file and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputHash {
    /// The path relative to the session file's folder (`/`-separated, `..` where it lies outside).
    pub path: String,
    pub sha256: String,
}

/// What the target stage decided at one delivery rate, as the files carry it. Numbers are
/// written exactly (shortest round-trip decimal) and read back to the same doubles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateGain {
    /// Delivery rate, Hz.
    pub rate: u32,
    /// Integrated loudness of the premaster at this rate, LUFS.
    pub input_lufs: f64,
    /// Largest true-peak reading of the premaster at this rate, dBTP.
    pub input_true_peak_dbtp: f64,
    /// The static gain, dB.
    pub gain_db: f64,
    /// The limiter's ceiling, dBTP (a little under the target's).
    pub ceiling_db: f64,
    /// Integrated loudness of the song under its own gain and the limiter, LUFS.
    pub lufs: f64,
    pub limiter_max_reduction_db: f64,
    pub limiter_mean_reduction_db: f64,
    /// Gain/limiter evaluations the search took.
    pub iterations: usize,
}

impl From<&RatePlan> for RateGain {
    fn from(r: &RatePlan) -> Self {
        RateGain {
            rate: r.rate,
            input_lufs: r.input_lufs,
            input_true_peak_dbtp: r.input_true_peak_dbtp,
            gain_db: r.plan.gain_db,
            ceiling_db: r.plan.ceiling_db,
            lufs: r.plan.lufs,
            limiter_max_reduction_db: r.plan.limiter.max_reduction_db,
            limiter_mean_reduction_db: r.plan.limiter.mean_reduction_db,
            iterations: r.iterations,
        }
    }
}

impl From<&RateGain> for RatePlan {
    fn from(r: &RateGain) -> Self {
        RatePlan {
            rate: r.rate,
            input_lufs: r.input_lufs,
            input_true_peak_dbtp: r.input_true_peak_dbtp,
            plan: GainPlan {
                gain_db: r.gain_db,
                ceiling_db: r.ceiling_db,
                lufs: r.lufs,
                limiter: LimiterStats {
                    max_reduction_db: r.limiter_max_reduction_db,
                    mean_reduction_db: r.limiter_mean_reduction_db,
                },
            },
            iterations: r.iterations,
        }
    }
}

/// A JSON file one mixdown command writes for another to read: its kind and format version,
/// which the reader checks before trusting anything else in it.
pub trait Interchange: serde::de::DeserializeOwned {
    /// The `kind` every such file carries.
    const KIND: &'static str;
    /// What it is called in messages ("measurement file").
    const WHAT: &'static str;
    /// Its `kind` and `schema_version` as read.
    fn stamp(&self) -> (&str, u32);
}

impl Interchange for MeasurementFile {
    const KIND: &'static str = MEASUREMENT_KIND;
    const WHAT: &'static str = "measurement file";
    fn stamp(&self) -> (&str, u32) {
        (&self.kind, self.schema_version)
    }
}

impl Interchange for PlanFile {
    const KIND: &'static str = PLAN_KIND;
    const WHAT: &'static str = "album plan";
    fn stamp(&self) -> (&str, u32) {
        (&self.kind, self.schema_version)
    }
}

/// `mixdown render SESSION --measure-only`: one song measured on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementFile {
    pub schema_version: u32,
    /// Always [`MEASUREMENT_KIND`].
    pub kind: String,
    pub mixdown_version: String,
    /// The session's name.
    pub name: String,
    /// Every input, the session file first.
    pub inputs: Vec<InputHash>,
    /// The target the gains meet.
    pub target: Target,
    /// At each delivery rate, first output's first.
    pub rates: Vec<RateGain>,
    /// The premaster as measured at the first output's rate.
    pub premaster: PremasterLevels,
}

/// Loudness and peaks of a song's premaster, with its gating blocks, so an album's loudness
/// can be gated over every song's blocks together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PremasterLevels {
    /// Hz.
    pub rate: u32,
    /// LUFS.
    pub integrated_lufs: f64,
    /// dBFS; `null` for silence.
    pub sample_peak_dbfs: Option<f64>,
    /// Largest reading of every true-peak meter, dBTP; `null` for silence.
    pub true_peak_dbtp: Option<f64>,
    /// Mean-square energy (K-weighted, channel-summed) of every 400 ms gating block, 100 ms
    /// apart (BS.1770-4 §2.8).
    pub blocks: Vec<f64>,
}

impl From<&Measurement> for PremasterLevels {
    fn from(m: &Measurement) -> Self {
        let db = |x: f32| Some(gain_to_db(f64::from(x))).filter(|v| v.is_finite());
        PremasterLevels {
            rate: m.rate,
            integrated_lufs: m.input_lufs,
            sample_peak_dbfs: db(m.sample_peak),
            true_peak_dbtp: db(m.peak),
            blocks: m.blocks.clone(),
        }
    }
}

/// The album's integrated loudness before the limiters, LUFS: BS.1770-4 gating over every
/// song's premaster blocks together, each song's scaled by its planned gain (dB). The limiters
/// only take level away, so the album as delivered is at most this loud.
pub fn album_lufs_before_limiter(songs: &[(&PremasterLevels, f64)]) -> Option<f64> {
    let blocks: Vec<f64> = songs
        .iter()
        .flat_map(|(p, gain_db)| {
            let g = db_to_power(*gain_db);
            p.blocks.iter().map(move |b| b * g)
        })
        .collect();
    crate::analysis::bs1770::integrated_from_blocks(&blocks)
}

/// One song of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSong {
    /// The session as the album file names it.
    pub session: String,
    /// Every input as measured, the session file first: applying checks them.
    pub inputs: Vec<InputHash>,
    /// What the album sets for the song.
    pub settings: SongSettings,
    /// The gain that brings the song alone to the target at its first output's rate, dB
    /// (`null` when it delivers at no rate with a target stage).
    pub own_gain_db: Option<f64>,
    /// The album gain minus the song's own gain, dB (0 with the track policy, at most 0 with
    /// the album policy).
    pub offset_db: f64,
    /// The gains to apply, per delivery rate.
    pub rates: Vec<RateGain>,
}

/// `mixdown album ALBUM.toml --plan M...`: the gains of every song of an album.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub schema_version: u32,
    /// Always [`PLAN_KIND`].
    pub kind: String,
    pub mixdown_version: String,
    pub policy: Policy,
    pub target: Target,
    /// The album's loudness with the planned gains, before the songs' limiters, LUFS
    /// ([`album_lufs_before_limiter`]).
    pub album_lufs_before_limiter: Option<f64>,
    pub songs: Vec<PlannedSong>,
}

impl PlanFile {
    /// The song whose session file has this SHA-256.
    pub fn song(&self, session_sha256: &str) -> Option<&PlannedSong> {
        self.songs
            .iter()
            .find(|s| s.inputs.first().is_some_and(|i| i.sha256 == session_sha256))
    }
}

/// The planned gains of the songs (each its gains per rate, first output's rate first), and
/// each song's offset from its own gain, dB.
///
/// Track policy: every song keeps its own gains. Album policy: the album gain is the smallest
/// of the songs' own gains at their first output's rate (the song that needs the least gain to
/// meet the target is the loudest once mastered, and meets it exactly); every song's gains at
/// every rate move by its offset, the album gain minus its own. Loudness after the limiter
/// grows monotonically with the gain, so no song goes over the target.
pub fn plan_gains(policy: Policy, songs: &[Vec<RatePlan>]) -> Vec<(f64, Vec<RatePlan>)> {
    let own = |s: &[RatePlan]| s.first().map(|r| r.plan.gain_db);
    let album = songs
        .iter()
        .filter_map(|s| own(s))
        .fold(f64::INFINITY, f64::min);
    songs
        .iter()
        .map(|s| {
            let offset = match (policy, own(s)) {
                (Policy::Album, Some(g)) => album - g,
                _ => 0.0,
            };
            let rates = s
                .iter()
                .map(|r| {
                    let mut r = *r;
                    // Adding exactly 0.0 keeps the gain bit for bit (the loudest song's plan
                    // is its own).
                    r.plan.gain_db += offset;
                    r
                })
                .collect();
            (offset, rates)
        })
        .collect()
}

/// The SHA-256 of a file's bytes, read in blocks, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(crate::io::wav::hex(&sha.finalize()))
}

/// The SHA-256 of every input of `session` (the session file first), paths relative to its
/// folder; the files are read in parallel on the current rayon pool.
pub fn input_hashes(session: &Session) -> std::io::Result<Vec<InputHash>> {
    use rayon::prelude::*;
    let dir = session.file.parent().unwrap_or(Path::new(""));
    session
        .inputs
        .par_iter()
        .map(|p| {
            Ok(InputHash {
                path: crate::session::paths::relative(dir, p),
                sha256: sha256_file(p)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(rate: u32, gain_db: f64) -> RatePlan {
        RatePlan {
            rate,
            input_lufs: -20.0,
            input_true_peak_dbtp: -3.0,
            plan: GainPlan {
                gain_db,
                ceiling_db: -1.05,
                lufs: -14.0,
                limiter: LimiterStats {
                    max_reduction_db: 1.0,
                    mean_reduction_db: 0.1,
                },
            },
            iterations: 3,
        }
    }

    #[test]
    fn album_policy_gives_every_song_the_smallest_gain() {
        let songs = vec![
            vec![rate(44100, 4.5), rate(48000, 4.6)],
            vec![rate(44100, 2.25)],
            vec![rate(44100, 7.0)],
        ];
        let planned = plan_gains(Policy::Album, &songs);
        let firsts: Vec<f64> = planned.iter().map(|(_, r)| r[0].plan.gain_db).collect();
        assert_eq!(firsts, vec![2.25, 2.25, 2.25]);
        assert_eq!(planned[0].0, 2.25 - 4.5);
        // Other rates move by the song's offset.
        assert!((planned[0].1[1].plan.gain_db - (4.6 - 2.25)).abs() < 1e-12);
        assert_eq!(planned[1].0, 0.0);
        let track = plan_gains(Policy::Track, &songs);
        assert_eq!(track[2].1[0].plan.gain_db, 7.0);
        assert!(track.iter().all(|(o, _)| *o == 0.0));
    }

    fn levels(blocks: Vec<f64>) -> PremasterLevels {
        PremasterLevels {
            rate: 48000,
            integrated_lufs: 0.0,
            sample_peak_dbfs: None,
            true_peak_dbtp: None,
            blocks,
        }
    }

    #[test]
    fn album_loudness_before_the_limiters_gates_every_songs_scaled_blocks() {
        let lufs = |e: f64| -0.691 + 10.0 * e.log10();
        let a = levels(vec![1e-2; 10]);
        let b = levels(vec![1e-2; 10]);
        // +3 dB on the second song: every block passes both gates, so the album is the mean
        // energy of all twenty blocks.
        let g = 10f64.powf(0.3);
        let got = album_lufs_before_limiter(&[(&a, 0.0), (&b, 3.0)]).unwrap();
        assert!((got - lufs((1e-2 + 1e-2 * g) / 2.0)).abs() < 1e-12, "{got}");
        // -20 dB on it: its blocks fall 20 LU under the first's, below the relative gate
        // (10 LU under the ungated mean), and the album is the first song alone.
        let got = album_lufs_before_limiter(&[(&a, 0.0), (&b, -20.0)]).unwrap();
        assert!((got - lufs(1e-2)).abs() < 1e-12, "{got}");
        assert_eq!(album_lufs_before_limiter(&[(&levels(vec![]), 0.0)]), None);
    }

    #[test]
    fn rate_gains_survive_json_bit_for_bit() {
        let r = rate(44100, 4.613_972_012_345_678);
        let mut g = RateGain::from(&r);
        g.lufs = -14.000_000_000_000_002;
        let back: RateGain = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(back.gain_db.to_bits(), g.gain_db.to_bits());
        assert_eq!(back.lufs.to_bits(), g.lufs.to_bits());
        assert_eq!(RatePlan::from(&back), RatePlan::from(&g));
    }
}
