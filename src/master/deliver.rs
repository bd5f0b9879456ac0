//! The output stage: the master at an output's rate streamed through the target stage's gain
//! and limiter, quantized (with the output's dither, seeded from the session), written block by
//! block to a temporary file beside the destination, and measured as delivered: integrated
//! loudness, sample peak, every true-peak meter. With a target, a delivered true peak over the
//! ceiling lowers the limiter's ceiling by the overshoot, and a loudness drift re-aims the
//! gain; then this output is made again.

use crate::analysis::bs1770::IntegratedMeter;
use crate::analysis::loudness::{Levels, Program, ProgramAnalyzer};
use crate::dsp::fade::{FadeCurve, Fades};
use crate::dsp::gain_to_db;
use crate::io::decode::FULL_SCALE;
use crate::io::stage;
use crate::io::wav::{self, Format};
use crate::session::model::{MasterFades, Output, Seams, Session};

use super::detect::EnvelopeStream;
use super::target::{self, Mastering, TargetOutcome};
use super::{AtRate, Delivery, MasterError, Progress};

/// Frames per block.
const BLOCK: usize = 1 << 15;

/// Most times one output is made again.
const MAX_REDOS: usize = 4;

/// What is done to the mastered song at one output rate before quantization, in frames: the
/// master's own fades over the whole song, then an album's seams (what is kept of the master,
/// the fades inside it, and the silence after it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// `[master]` fades over the whole master, frame by frame as a region's fades
    /// ([`Fades::gain`]); flat when the session sets none.
    pub master: Fades,
    /// Frames dropped at the start.
    pub head: usize,
    /// Frames kept after the head.
    pub keep: usize,
    pub fade_in: usize,
    pub fade_out: usize,
    /// Frames of digital silence appended.
    pub gap: usize,
}

impl Cut {
    /// The master fades `m` and album seams `s` over a master of `len` frames at `rate` Hz
    /// (each length rounded to the nearest frame). [`MasterError::Seams`] when the master's
    /// fades do not fit in it, the trims leave nothing, or the album's fades do not fit in what
    /// is left.
    pub fn new(m: &MasterFades, s: &Seams, rate: u32, len: usize) -> Result<Cut, MasterError> {
        let frames = |x: f64| (x * f64::from(rate)).round() as usize;
        let seconds = len as f64 / f64::from(rate);
        let too_long = |what: &str| MasterError::Seams {
            what: what.to_string(),
            seconds,
        };
        let master = Fades {
            len: len as u64,
            fade_in: frames(m.fade_in_s) as u64,
            fade_out: frames(m.fade_out_s) as u64,
            curve: m.curve,
        };
        if master.fade_in + master.fade_out > master.len {
            return Err(too_long("[master] fade_in_s + fade_out_s"));
        }
        let (head, tail) = (frames(s.trim_head_s), frames(s.trim_tail_s));
        let keep = len
            .checked_sub(head + tail)
            .filter(|&k| k > 0)
            .ok_or_else(|| too_long("the album's trim_head_s + trim_tail_s"))?;
        let (fade_in, fade_out) = (frames(s.fade_in_s), frames(s.fade_out_s));
        if fade_in + fade_out > keep {
            return Err(too_long(
                "the album's fade_in_s + fade_out_s (after the trims)",
            ));
        }
        Ok(Cut {
            master,
            head,
            keep,
            fade_in,
            fade_out,
            gap: frames(s.gap_after_s),
        })
    }

    /// Frames delivered: what is kept and the gap.
    pub fn frames(&self) -> usize {
        self.keep + self.gap
    }

    /// Shape the master's frames `pos..pos + n` (in `buf`, one `Vec` per channel): fade what
    /// the master's fades cover, drop what the trims cut, fade what the album's fades cover.
    pub fn shape(&self, pos: usize, buf: &mut [Vec<f32>]) {
        let n = buf.first().map_or(0, Vec::len);
        let (start, end) = (
            self.head.clamp(pos, pos + n),
            (self.head + self.keep).clamp(pos, pos + n),
        );
        // The master's fades count frames of the whole master, trims included.
        let mut planes: Vec<&mut [f32]> = buf.iter_mut().map(|c| &mut c[..]).collect();
        self.master.apply(pos as u64, &mut planes);
        for ch in buf.iter_mut() {
            ch.truncate(end - pos);
            ch.drain(..start - pos);
            for (i, x) in ch.iter_mut().enumerate() {
                *x *= self.gain(start - self.head + i);
            }
        }
    }

    /// The fades' gain at kept frame `i`: a raised cosine, `sin²(π/2 · t)` for `t` running
    /// from 0 to 1 over the fade (so a fade-out mirrors a fade-in and crossfades would sum to
    /// one).
    pub fn gain(&self, i: usize) -> f32 {
        // A raised cosine, sin²(πt/2) = (1 − cos πt)/2, sampled at the frame centres.
        let ramp =
            |k: usize, len: usize| FadeCurve::SCurve.gain((k as f64 + 0.5) / len as f64) as f32;
        let mut g = 1.0;
        if i < self.fade_in {
            g *= ramp(i, self.fade_in);
        }
        let from_end = self.keep - 1 - i.min(self.keep - 1);
        if from_end < self.fade_out {
            g *= ramp(from_end, self.fade_out);
        }
        g
    }
}

/// A delivery and, for the first output, what the master itself measured.
pub(crate) struct Delivered {
    pub(crate) delivery: Delivery,
    pub(crate) program: Option<Program>,
    pub(crate) planes: Option<Vec<Vec<f32>>>,
    pub(crate) outcome: Option<TargetOutcome>,
}

/// Make output `index`, `o`, from the master at its rate. `analyse`: also measure the master
/// itself (the report's master section); `keep`: also keep it in memory.
pub(crate) fn deliver_one(
    session: &Session,
    at: &AtRate<'_>,
    index: usize,
    o: &Output,
    analyse: bool,
    keep: bool,
    progress: Progress<'_>,
) -> Result<Delivered, MasterError> {
    let encode_err = |source| MasterError::Encode {
        path: o.path.clone(),
        source,
    };
    let target = session
        .master
        .target
        .as_ref()
        .filter(|_| at.measurement.is_some());
    let mut plan = at.plan;
    let mut iterations = at.iterations;
    let mut aim = target.map(|t| t.lufs);
    let mut redone = 0;
    // Each output gets its own dither stream, derived from the session.
    let seed = session.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let format = Format {
        channels: at.pre().channels(),
        sample_rate: o.sample_rate,
        encoding: o.encoding,
        dither: o.dither,
        seed,
    };
    let fades = session.master.fades;
    let seams = (session.seams != Seams::default() || fades.is_set())
        .then(|| Cut::new(&fades, &session.seams, o.sample_rate, at.pre().len()))
        .transpose()?;
    loop {
        let pre = at.pre();
        let channels = pre.channels();
        let mut file = if o.stdout {
            stage::spool_writer(&o.path)?
        } else {
            stage::stage_writer(&o.path)?
        };
        let frames = seams.map_or(pre.len(), |c| c.frames());
        let mut wav = wav::Writer::new(&mut file, &format, &session.tags, frames as u64)
            .map_err(encode_err)?;
        let mut stream = Mastering::new(pre, at.measurement.as_ref().zip(plan.as_ref()));
        let mut meter = IntegratedMeter::new(channels, o.sample_rate);
        // With master fades, the loudness the target is judged on: the song before its fades
        // (after the gain and limiter, at the output's rate).
        let mut unfaded = fades
            .is_set()
            .then(|| IntegratedMeter::new(channels, o.sample_rate));
        let mut detector = EnvelopeStream::peak_only(channels, o.sample_rate);
        let mut program = match analyse {
            true => Some(ProgramAnalyzer::new(channels, o.sample_rate)?),
            false => None,
        };
        let mut planes: Option<Vec<Vec<f32>>> = keep.then(|| vec![Vec::new(); channels]);
        let (mut peak, mut true_peak, mut clipped) = (0.0f32, 0.0f32, 0u64);
        let mut pos = 0;
        let mut gap = seams.map_or(0, |c| c.gap);
        // The next block as delivered: `buf` the master (shaped at the seams), `delivered`
        // its encoded samples. False at the end.
        let mut make =
            |buf: &mut Vec<Vec<f32>>, delivered: &mut Vec<Vec<f32>>| -> Result<bool, MasterError> {
                loop {
                    let n = stream.next(BLOCK, buf)?;
                    if n > 0 {
                        if let Some(u) = &mut unfaded {
                            let refs: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
                            u.add(&refs);
                        }
                        if let Some(c) = &seams {
                            c.shape(pos, buf);
                        }
                        pos += n;
                    } else if gap > 0 {
                        // The album's gap after the song: digital silence (dithered like the rest).
                        let g = gap.min(BLOCK);
                        for b in buf.iter_mut() {
                            b.clear();
                            b.resize(g, 0.0);
                        }
                        gap -= g;
                    } else {
                        return Ok(false);
                    }
                    if buf[0].is_empty() {
                        continue;
                    }
                    let refs: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
                    wav.write(&refs, Some(delivered)).map_err(encode_err)?;
                    if let Some(k) = &mut planes {
                        for (k, b) in k.iter_mut().zip(buf.iter()) {
                            k.extend_from_slice(b);
                        }
                    }
                    return Ok(true);
                }
            };
        // What is measured of a block: the true-peak check and the meters, each reading it on
        // its own.
        let mut measure = |buf: &[Vec<f32>], delivered: &[Vec<f32>]| -> Result<(), MasterError> {
            let out: Vec<&[f32]> = delivered.iter().map(|d| &d[..]).collect();
            let refs: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
            let ((), metered) = rayon::join(
                || {
                    detector.push(&out, &mut |_, env| {
                        true_peak = env.iter().fold(true_peak, |m, &v| m.max(v));
                    })
                },
                || {
                    meter.add(&out);
                    for d in &out {
                        for &x in d.iter() {
                            peak = peak.max(x.abs());
                            clipped += u64::from(x.abs() >= FULL_SCALE);
                        }
                    }
                    program.as_mut().map_or(Ok(()), |p| p.add(&refs))
                },
            );
            Ok(metered?)
        };
        // Block k is measured while block k + 1 is made (each consumer sees the blocks in
        // order, so the figures do not depend on the scheduling).
        let (mut buf, mut delivered) = (vec![Vec::new(); channels], vec![Vec::new(); channels]);
        let (mut next_buf, mut next_delivered) =
            (vec![Vec::new(); channels], vec![Vec::new(); channels]);
        let mut more = make(&mut buf, &mut delivered)?;
        while more {
            let (made, measured) = rayon::join(
                || make(&mut next_buf, &mut next_delivered),
                || measure(&buf, &delivered),
            );
            measured?;
            more = made?;
            std::mem::swap(&mut buf, &mut next_buf);
            std::mem::swap(&mut delivered, &mut next_delivered);
        }
        detector.finish(&mut |_, env| {
            true_peak = env.iter().fold(true_peak, |m, &v| m.max(v));
        });
        let (_, written) = wav.finish().map_err(encode_err)?;
        let true_peak_dbtp = gain_to_db(f64::from(true_peak.max(peak)));
        let before_fades_lufs = unfaded.as_ref().and_then(IntegratedMeter::integrated);
        let levels = Levels {
            integrated_lufs: meter.integrated(),
            sample_peak_dbfs: gain_to_db(f64::from(peak)),
            true_peak_dbtp,
            clipped_samples: clipped,
        };
        if let (Some(t), Some(p), Some(lufs), Some(m)) =
            (target, plan, aim, at.measurement.as_ref())
        {
            let over = true_peak_dbtp - t.ceiling_dbtp;
            // Only re-aim when the stage itself could reach the target: an unreachable target
            // stays a failed gate, reported, not chased.
            let reachable = (p.lufs - t.lufs).abs() <= 0.1;
            let miss = match before_fades_lufs.or(levels.integrated_lufs) {
                Some(i) if reachable => i - t.lufs,
                _ => 0.0,
            };
            // (The ceiling goes down by at most 1 dB in all: beyond that the overshoot is not
            // the gain ramps' doing, and the honest outcome is a failed gate.)
            let lower = over > 0.0 && t.ceiling_dbtp - p.ceiling_db < 1.0;
            // An album's gain is fixed: only the ceiling may move, and only down.
            let reaim = miss.abs() > target::AIM_LU * 2.0 && !at.fixed;
            if at.fixed && lower && redone < MAX_REDOS {
                plan = Some(target::GainPlan {
                    ceiling_db: p.ceiling_db - (over + 0.005),
                    ..p
                });
                redone += 1;
                continue;
            }
            if (lower || reaim) && redone < MAX_REDOS {
                let ceiling = if lower {
                    p.ceiling_db - (over + 0.005)
                } else {
                    p.ceiling_db
                };
                let lufs = if reaim { lufs - miss } else { lufs };
                plan = Some(target::plan(
                    pre,
                    m,
                    lufs,
                    p.gain_db,
                    ceiling,
                    &mut iterations,
                    progress,
                )?);
                aim = Some(lufs);
                redone += 1;
                continue;
            }
        }
        let program = program.map(ProgramAnalyzer::finish);
        let outcome = match (analyse, at.measurement.as_ref(), plan) {
            (true, Some(m), Some(p)) => Some(TargetOutcome {
                input_lufs: m.input_lufs,
                static_gain_db: p.gain_db,
                achieved_lufs: program
                    .as_ref()
                    .and_then(|g| g.levels.integrated_lufs)
                    .unwrap_or(p.lufs),
                limiter: stream.limiter(),
                ceiling_dbtp: p.ceiling_db,
                true_peak_dbtp,
                iterations,
            }),
            _ => None,
        };
        return Ok(Delivered {
            delivery: Delivery {
                path: o.path.clone(),
                staged: Some(file.finish()?),
                encoded: written,
                levels,
                before_fades_lufs,
                true_peak_dbtp,
                sample_rate: o.sample_rate,
                encoding: o.encoding,
                dither: o.dither,
                ceiling_used_dbtp: plan.map(|p| p.ceiling_db),
                redone,
                blocks: meter.blocks().to_vec(),
            },
            program,
            planes,
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seams(head: f64, tail: f64, fin: f64, fout: f64, gap: f64) -> Seams {
        Seams {
            trim_head_s: head,
            trim_tail_s: tail,
            fade_in_s: fin,
            fade_out_s: fout,
            gap_after_s: gap,
        }
    }

    #[test]
    fn seams_in_frames_round_to_the_nearest_frame() {
        let none = MasterFades::default();
        let c = Cut::new(&none, &seams(0.1, 0.25, 0.5, 1.0, 2.0), 44100, 441_000).unwrap();
        assert_eq!(
            c,
            Cut {
                master: Fades {
                    len: 441_000,
                    fade_in: 0,
                    fade_out: 0,
                    curve: FadeCurve::EqualPower,
                },
                head: 4410,
                keep: 441_000 - 4410 - 11025,
                fade_in: 22050,
                fade_out: 44100,
                gap: 88200,
            }
        );
        assert_eq!(c.frames(), c.keep + 88200);
        assert!(matches!(
            Cut::new(
                &MasterFades::default(),
                &seams(5.0, 5.0, 0.0, 0.0, 0.0),
                1000,
                10_000
            ),
            Err(MasterError::Seams { .. })
        ));
        assert!(matches!(
            Cut::new(
                &MasterFades::default(),
                &seams(0.0, 0.0, 6.0, 5.0, 0.0),
                1000,
                10_000
            ),
            Err(MasterError::Seams { .. })
        ));
    }

    #[test]
    fn fades_are_raised_cosines_that_mirror_each_other() {
        let c = Cut::new(
            &MasterFades::default(),
            &seams(0.0, 0.0, 0.1, 0.1, 0.0),
            1000,
            1000,
        )
        .unwrap();
        // sin²(π/2 · t) at the frame centres t = (k + 0.5) / n: a fade-in and the matching
        // fade-out sum to one (sin² + cos²), and the midpoint is -6 dB.
        for k in 0..100 {
            let t = (k as f64 + 0.5) / 100.0;
            let want = (std::f64::consts::FRAC_PI_2 * t).sin().powi(2);
            assert!((f64::from(c.gain(k)) - want).abs() < 1e-6, "frame {k}");
            assert!((c.gain(k) + c.gain(99 - k) - 1.0).abs() < 1e-6);
            assert!(
                (c.gain(999 - k) - c.gain(k)).abs() < 1e-7,
                "fade-out mirrors"
            );
        }
        assert_eq!(c.gain(500), 1.0);
    }

    #[test]
    fn shaping_blocks_drops_the_trims_wherever_the_blocks_fall() {
        let c = Cut::new(
            &MasterFades::default(),
            &seams(0.003, 0.002, 0.0, 0.0, 0.0),
            1000,
            10,
        )
        .unwrap();
        let mut kept = Vec::new();
        // Blocks of 4 frames holding their frame index.
        for pos in (0..10).step_by(4) {
            let n = 4.min(10 - pos);
            let mut buf = vec![(pos..pos + n).map(|i| i as f32).collect::<Vec<_>>()];
            c.shape(pos, &mut buf);
            kept.extend(buf.remove(0));
        }
        assert_eq!(kept, vec![3.0, 4.0, 5.0, 6.0, 7.0]);
    }
}
