//! The resolved session: what the engine renders. No options left open, units applied, paths
//! absolute, names resolved to indices. Built only by validation.

use std::path::PathBuf;

use crate::dsp::config::FxConfig;
use crate::dsp::envelope::{Automation, Envelope};
use crate::io::decode::StemInfo;
use crate::io::tags::Tags;
use crate::io::wav::{Dither, Encoding};

/// How long to render after the last stem ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tail {
    /// Until effect tails fall below -90 dBFS, at most 30 s.
    Auto,
    /// Exactly this many seconds.
    Seconds(f64),
}

/// Where a track or bus sends its main output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Master,
    Bus(usize),
}

/// An aux send to a bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub bus: usize,
    pub level_db: f64,
    /// Tap before the fader (the send level ignores the fader).
    pub pre_fader: bool,
}

/// A processor chain entry with the key path that names it in messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Fx {
    pub config: FxConfig,
    /// `track[2] "vocals".fx[1]`, for runtime errors.
    pub path: String,
    /// Parameters that follow an envelope (their value in `config` is the envelope's first).
    pub automation: Vec<Automation>,
}

/// Envelopes on a track's or bus's mixer keys; the numbers of those keys hold the envelopes'
/// first values. Empty: the numbers hold for the whole song.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MixAutomation {
    pub gain_db: Option<Envelope>,
    pub pan: Option<Envelope>,
    pub width: Option<Envelope>,
    /// `(index into sends, envelope of its level_db)`.
    pub sends: Vec<(usize, Envelope)>,
}

impl MixAutomation {
    pub fn is_empty(&self) -> bool {
        *self == MixAutomation::default()
    }

    /// The envelope of send `i`'s level, if it has one.
    pub fn send(&self, i: usize) -> Option<&Envelope> {
        self.sends.iter().find(|(j, _)| *j == i).map(|(_, e)| e)
    }
}

#[derive(Debug, Clone)]
pub struct Track {
    pub name: String,
    /// Absolute path of the stem.
    pub file: PathBuf,
    /// The file as written in the session (for messages).
    pub file_display: String,
    pub stem: StemInfo,
    pub gain_db: f64,
    pub pan: f64,
    pub width: f64,
    pub offset_s: f64,
    /// The part of the stem that plays, and its fades.
    pub region: Region,
    /// `regions = [...]`: the regions the track plays instead of one stem, in the order
    /// written (empty for a track with `file`). `file`, `file_display` and `stem` are then the
    /// first region's, `offset_s` is 0 and `region` the whole stem.
    pub regions: Vec<Clip>,
    pub polarity_invert: bool,
    /// Muted by `mute`, or by another track's `solo`.
    pub muted: bool,
    /// `solo = true`: every track that is not soloed is muted.
    pub solo: bool,
    pub output: Dest,
    pub sends: Vec<Send>,
    pub fx: Vec<Fx>,
    /// Envelopes on `gain_db`, `pan`, `width` and send levels.
    pub auto: MixAutomation,
}

/// The part of a stem a track plays: from `start_s` to `end_s` of the stem (seconds of the
/// stem, at the session rate), placed at the track's `offset_s`, faded in and out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Region {
    pub start_s: f64,
    /// `None`: to the stem's end.
    pub end_s: Option<f64>,
    pub fade_in_s: f64,
    pub fade_out_s: f64,
    pub fade_curve: crate::dsp::fade::FadeCurve,
}

impl Region {
    /// The whole stem, unfaded (what a track without region keys plays).
    pub fn is_whole(&self) -> bool {
        *self == Region::default()
    }
}

/// A stretch of a file placed on the song's timeline: a track's `file` (placed at `offset_s`)
/// or one entry of its `regions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Absolute path of the file.
    pub file: PathBuf,
    /// The file as written in the session (for messages).
    pub file_display: String,
    pub stem: StemInfo,
    /// Where the region starts in the song, s.
    pub at_s: f64,
    /// The part of the file that plays and its own fades (the track's curve).
    pub region: Region,
    /// The region's own gain, dB.
    pub gain_db: f64,
}

impl Track {
    /// What the track plays: its regions, or its stem as one region.
    pub fn clips(&self) -> Vec<Clip> {
        if !self.regions.is_empty() {
            return self.regions.clone();
        }
        vec![Clip {
            file: self.file.clone(),
            file_display: self.file_display.clone(),
            stem: self.stem.clone(),
            at_s: self.offset_s,
            region: self.region,
            gain_db: 0.0,
        }]
    }

    /// The most files the track reads at once: one, or two across a crossfade.
    pub fn files_at_once(&self) -> usize {
        self.regions.len().clamp(1, 2)
    }

    /// Whether every file the track plays is mono (the track is then panned as a mono source).
    pub fn is_mono(&self) -> bool {
        self.clips().iter().all(|c| c.stem.channels == 1)
    }
}

#[derive(Debug, Clone)]
pub struct Bus {
    pub name: String,
    pub gain_db: f64,
    pub pan: f64,
    pub width: f64,
    pub muted: bool,
    pub output: Dest,
    pub sends: Vec<Send>,
    pub fx: Vec<Fx>,
    /// Envelopes on `gain_db`, `pan`, `width` and send levels.
    pub auto: MixAutomation,
}

/// Loudness target of the master.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub lufs: f64,
    pub ceiling_dbtp: f64,
    pub tolerance_lu: f64,
    /// The preset it came from, if any.
    pub preset: Option<String>,
}

/// Which dimensions reference matching may change.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub file: PathBuf,
    pub amount: f64,
    pub eq: bool,
    pub loudness: bool,
    pub width: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Master {
    pub fx: Vec<Fx>,
    pub reference: Option<Reference>,
    pub target: Option<Target>,
    /// Fades of the whole song, applied after the target stage, before quantization.
    pub fades: MasterFades,
}

/// `[master] fade_in_s`, `fade_out_s`, `fade_curve`: fades over the mastered song, after the
/// target stage (so its gain is found on the unfaded song), before dither and quantization.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MasterFades {
    /// Seconds from the song's first frame.
    pub fade_in_s: f64,
    /// Seconds before the song's last frame (the end of its tail).
    pub fade_out_s: f64,
    pub curve: crate::dsp::fade::FadeCurve,
}

impl MasterFades {
    /// Whether the master is faded at all.
    pub fn is_set(&self) -> bool {
        self.fade_in_s > 0.0 || self.fade_out_s > 0.0
    }
}

/// One delivery file.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Absolute path (`-` when it goes to standard output).
    pub path: PathBuf,
    /// `render -o -`: this output is written to standard output, after every file is in place.
    pub stdout: bool,
    pub sample_rate: u32,
    pub encoding: Encoding,
    pub dither: Dither,
}

/// How an album joins a song to the next: applied after mastering, before quantization, at
/// each output's rate. All zero (the default) leaves the song as mastered.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Seams {
    /// Seconds cut from the start of the master.
    pub trim_head_s: f64,
    /// Seconds cut from the end of the master.
    pub trim_tail_s: f64,
    /// Fade-in length after the trim, s (raised cosine).
    pub fade_in_s: f64,
    /// Fade-out length before the trimmed end, s (raised cosine).
    pub fade_out_s: f64,
    /// Digital silence appended after the song (the gap before the next one), s.
    pub gap_after_s: f64,
}

#[derive(Debug, Clone)]
pub struct Session {
    /// Absolute path of the session file.
    pub file: PathBuf,
    pub name: String,
    /// Processing rate in Hz.
    pub sample_rate: u32,
    pub tail: Tail,
    pub tempo_bpm: Option<f64>,
    pub tracks: Vec<Track>,
    pub buses: Vec<Bus>,
    pub master: Master,
    pub outputs: Vec<Output>,
    /// Where the report goes (absolute); none when the first output goes to standard output
    /// and `--report` does not name a file.
    pub report: Option<PathBuf>,
    /// The plot files `--plot` writes (absolute; empty without `--plot`).
    pub plots: Vec<PathBuf>,
    pub tags: Tags,
    /// Dither seed: a hash of everything in the session that shapes the audio (not of its
    /// text), so comments and formatting never change the bytes.
    pub seed: u64,
    /// What validation found that does not stop a render but changes what it does (a
    /// linear-phase EQ band its filter cannot follow), in file order. `check` prints them, a
    /// render reports them.
    pub warnings: Vec<super::Diagnostic>,
    /// Trim, fades and gap an album asks for (none for a session on its own).
    pub seams: Seams,
    /// The static gain is an album's (album policy): the song's loudness follows the album's,
    /// so its own loudness gate only fails when it is louder than the target.
    pub album_gain: bool,
    /// Every file the render reads (the session file first, then stems, impulse responses and
    /// the reference in file order, each once), absolute.
    pub inputs: Vec<PathBuf>,
}
