//! The session format as data: every key of a session file, with its section, type, unit,
//! default, range and meaning, in one table.
//!
//! Validation reads keys through this table (allowed keys, types, ranges, defaults, choices
//! and the messages that name them), `mixdown schema` renders it as a JSON Schema for editors,
//! and `mixdown schema --markdown` renders the README's session reference from it, so the
//! three cannot drift apart. What one key cannot say alone stays in the validation code and is
//! named in the key's doc: limits that depend on other keys (`end_s` after `start_s`), on the
//! session rate (frequencies below Nyquist) or on files (a region inside its stem), and names
//! that must be unique or must name a bus or track.
//!
//! A new key is one entry in its section's module and in the section's `keys`, read in the
//! validation code through it (`t.num_of(d, &keys::track::GAIN_DB)`); the README's tables and
//! the schema follow, and the tests check that the validator reads it with the table's type
//! and range. A key that also takes an automation envelope is a [`Ty::Envelope`]; a list of
//! tables (a track's regions) is a [`Ty::Tables`] of a new [`Section`].

/// One key of a session file.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The key as written in the file.
    pub name: &'static str,
    pub ty: Ty,
    /// The unit of a number, as messages print it after a limit (`dB`, `s`, `Hz`); empty for
    /// plain numbers.
    pub unit: &'static str,
    pub default: Absent,
    /// What the key means (Markdown; the README and editors' hover text show it).
    pub doc: &'static str,
    /// The out-of-range message when the generated one ("must be between 0 and 1 s") would
    /// say less than a word can ("must be a four-digit year").
    pub limit: Option<&'static str>,
}

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A number (an integer is accepted) in `lo..=hi`.
    Number {
        lo: f64,
        hi: f64,
    },
    /// A number, or an automation envelope `{ points = [[t, v], ...], curve }` whose values lie
    /// in `lo..=hi` (times in seconds, or `"bar:beat"` strings with the session's tempo).
    Envelope {
        lo: f64,
        hi: f64,
    },
    /// A frequency in Hz from `lo` up to (not including) the session's Nyquist frequency.
    Hz {
        lo: f64,
    },
    /// A [`Ty::Hz`] frequency, or an automation envelope of such frequencies.
    HzEnvelope {
        lo: f64,
    },
    /// An integer in `lo..=hi`.
    Integer {
        lo: i64,
        hi: i64,
    },
    /// One of a few integers.
    IntOf(&'static [i64]),
    Bool,
    /// Free text.
    Text,
    /// A file path, relative to the session file.
    File,
    /// The name of a track or bus elsewhere in the session.
    Ref,
    /// One of a few strings.
    Choice(&'static [&'static str]),
    /// The string `"auto"` or a number of seconds in `lo..=hi`.
    AutoOrSeconds {
        lo: f64,
        hi: f64,
    },
    /// A table of the keys of a section.
    Table(&'static Section),
    /// An array of tables of the keys of a section, `min..=max` of them.
    Tables {
        of: &'static Section,
        min: usize,
        max: usize,
    },
    /// An array of tables that each name their kind in `tag` (`type = "eq"`); each variant
    /// has its own section of keys. At least `min` entries.
    Tagged {
        tag: &'static str,
        variants: &'static [Variant],
        min: usize,
    },
    /// An array of `min..=max` values of one type.
    List {
        item: &'static Ty,
        min: usize,
        max: usize,
    },
}

/// How an automation envelope ([`Ty::Envelope`]) moves between its points; the first is the
/// default.
pub const ENVELOPE_CURVES: [&str; 3] = crate::dsp::envelope::Curve::NAMES;

/// One kind of entry in a [`Ty::Tagged`] array: the tag's value and the keys that go with it.
/// Two variants may share a tag (a reverb is algorithmic or convolution); the validation code
/// tells them apart.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub tag: &'static str,
    pub section: &'static Section,
}

/// What an absent key means.
#[derive(Debug, Clone, Copy)]
pub enum Absent {
    /// The key must be given.
    Required,
    /// Absent is "off" (no filter, no reference, no tempo).
    Off,
    Num(f64),
    Int(i64),
    Bool(bool),
    /// A string or choice.
    Str(&'static str),
    /// A default that depends on the rest of the session, described in words.
    Described(&'static str),
    /// A number that depends on the choice made by another key of the same table.
    ByChoice {
        key: &'static str,
        values: &'static [(&'static str, f64)],
    },
}

/// A table of a session file: the top level, `[session]`, `[[track]]`, an fx type, ...
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Stable name: `track`, `track.sends`, `fx.compressor`, `fx.eq.bands.peak`.
    pub id: &'static str,
    /// How the README heads it.
    pub title: &'static str,
    /// What the table is for (Markdown).
    pub doc: &'static str,
    pub keys: &'static [&'static Key],
}

impl Section {
    /// The names of its keys, in table order.
    pub fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }

    /// The key called `name`.
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().copied().find(|k| k.name == name)
    }
}

impl Key {
    /// The inclusive numeric range of a number, seconds, envelope or integer key.
    pub fn range(&self) -> Option<(f64, f64)> {
        match self.ty {
            Ty::Number { lo, hi } | Ty::Envelope { lo, hi } | Ty::AutoOrSeconds { lo, hi } => {
                Some((lo, hi))
            }
            Ty::Integer { lo, hi } => Some((lo as f64, hi as f64)),
            Ty::Hz { lo } | Ty::HzEnvelope { lo } => Some((lo, f64::INFINITY)),
            _ => None,
        }
    }

    /// The numeric default, if the default is a number.
    pub fn num_default(&self) -> Option<f64> {
        match self.default {
            Absent::Num(x) => Some(x),
            Absent::Int(i) => Some(i as f64),
            _ => None,
        }
    }

    /// The default chosen by `choice` of the key a [`Absent::ByChoice`] depends on.
    pub fn default_for(&self, choice: &str) -> Option<f64> {
        match self.default {
            Absent::ByChoice { values, .. } => {
                values.iter().find(|(c, _)| *c == choice).map(|(_, v)| *v)
            }
            _ => self.num_default(),
        }
    }

    /// The choices of a choice key.
    pub fn choices(&self) -> &'static [&'static str] {
        match self.ty {
            Ty::Choice(c) => c,
            _ => &[],
        }
    }

    pub fn required(&self) -> bool {
        matches!(self.default, Absent::Required)
    }
}

// Constructors, so the table below reads one key per line or two.

const fn key(name: &'static str, ty: Ty, unit: &'static str, default: Absent) -> Key {
    Key {
        name,
        ty,
        unit,
        default,
        doc: "",
        limit: None,
    }
}

const fn num(name: &'static str, lo: f64, hi: f64, unit: &'static str, default: f64) -> Key {
    key(name, Ty::Number { lo, hi }, unit, Absent::Num(default))
}

const fn num_opt(name: &'static str, lo: f64, hi: f64, unit: &'static str) -> Key {
    key(name, Ty::Number { lo, hi }, unit, Absent::Off)
}

const fn hz(name: &'static str, lo: f64, default: Absent) -> Key {
    key(name, Ty::Hz { lo }, "Hz", default)
}

const fn flag(name: &'static str, default: bool) -> Key {
    key(name, Ty::Bool, "", Absent::Bool(default))
}

const fn choice(name: &'static str, values: &'static [&'static str], default: Absent) -> Key {
    key(name, Ty::Choice(values), "", default)
}

const fn text(name: &'static str) -> Key {
    key(name, Ty::Text, "", Absent::Off)
}

impl Key {
    /// The key also takes an automation envelope of its values.
    const fn auto(mut self) -> Key {
        self.ty = match self.ty {
            Ty::Number { lo, hi } => Ty::Envelope { lo, hi },
            Ty::Hz { lo } => Ty::HzEnvelope { lo },
            ty => ty,
        };
        self
    }

    const fn doc(mut self, doc: &'static str) -> Key {
        self.doc = doc;
        self
    }

    const fn default(mut self, default: Absent) -> Key {
        self.default = default;
        self
    }

    const fn limit(mut self, limit: &'static str) -> Key {
        self.limit = Some(limit);
        self
    }
}

/// The top level of a session file.
pub mod root {
    use super::{Absent, Key, Section, Ty, key};

    pub const SESSION: Key = key(
        "session",
        Ty::Table(&super::session::SECTION),
        "",
        Absent::Off,
    )
    .doc("the song as a whole");
    pub const TRACK: Key = key(
        "track",
        Ty::Tables {
            of: &super::track::SECTION,
            min: 1,
            max: usize::MAX,
        },
        "",
        Absent::Required,
    )
    .doc("the stems, one `[[track]]` each; at least one");
    pub const BUS: Key = key(
        "bus",
        Ty::Tables {
            of: &super::bus::SECTION,
            min: 0,
            max: usize::MAX,
        },
        "",
        Absent::Off,
    )
    .doc("buses that tracks and other buses feed");
    pub const MASTER: Key = key(
        "master",
        Ty::Table(&super::master::SECTION),
        "",
        Absent::Off,
    )
    .doc("the master chain, reference matching and the loudness target");
    pub const OUTPUT: Key = key(
        "output",
        Ty::Tables {
            of: &super::output::SECTION,
            min: 1,
            max: usize::MAX,
        },
        "",
        Absent::Described("one 16-bit 44.1 kHz `SESSION.wav` beside the session"),
    )
    .doc("the files to write");
    pub const METADATA: Key = key(
        "metadata",
        Ty::Table(&super::metadata::SECTION),
        "",
        Absent::Off,
    )
    .doc("tags written into every output");

    pub const SECTION: Section = Section {
        id: "root",
        title: "top level",
        doc: "A mixdown session: a song's stems, how to mix and master them, and the files to write.",
        keys: &[&SESSION, &TRACK, &BUS, &MASTER, &OUTPUT, &METADATA],
    };
}

/// `[session]`.
pub mod session {
    use super::{Absent, Key, Section, Ty, key, num_opt, text};

    pub const NAME: Key = text("name")
        .default(Absent::Described("the session file's name"))
        .doc("song name (report, messages)");
    pub const SAMPLE_RATE: Key = key(
        "sample_rate",
        Ty::Integer {
            lo: crate::io::decode::MIN_RATE as i64,
            hi: crate::io::decode::MAX_RATE as i64,
        },
        "Hz",
        Absent::Described("the rate most stems share (ties: the higher)"),
    )
    .doc("processing rate; stems at other rates are resampled once");
    pub const TAIL: Key = key(
        "tail",
        Ty::AutoOrSeconds { lo: 0.0, hi: 30.0 },
        "s",
        Absent::Str("auto"),
    )
    .doc(
        "seconds rendered after the last stem ends; `\"auto\"` renders the processors' \
         ringing until it falls below -90 dBFS (at most 30 s)",
    );
    pub const TEMPO_BPM: Key = num_opt("tempo_bpm", 20.0, 400.0, "BPM")
        .doc("lets delay times be note values and automation times be `\"bar:beat\"` strings");
    pub const BEATS_PER_BAR: Key = key(
        "beats_per_bar",
        Ty::Integer { lo: 1, hi: 32 },
        "",
        Absent::Int(4),
    )
    .doc("beats in a bar, for automation times written `\"bar:beat\"`");

    pub const SECTION: Section = Section {
        id: "session",
        title: "[session]",
        doc: "",
        keys: &[&NAME, &SAMPLE_RATE, &TAIL, &TEMPO_BPM, &BEATS_PER_BAR],
    };
}

/// Sections in which exactly one of a few keys must be given (a track plays `file` or
/// `regions`), by section id: the schema says so with `oneOf`, the validator in its own words.
pub const ONE_OF: &[(&str, &[&str])] = &[("track", &["file", "regions"])];

/// `[[track]]`.
pub mod track {
    use super::{Absent, Key, Section, Ty, choice, flag, key, num, num_opt};

    pub const NAME: Key = key("name", Ty::Text, "", Absent::Required)
        .doc("unique among tracks; sends, sidechains and messages use it");
    pub const FILE: Key = key(
        "file",
        Ty::File,
        "",
        Absent::Described("required, unless `regions`"),
    )
    .doc(
        "the stem: WAV (16/24/32-bit integer, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE), AIFF, \
         FLAC, MP3, Ogg Vorbis; mono or stereo; 8..192 kHz",
    );
    pub const REGIONS: Key = key(
        "regions",
        Ty::Tables {
            of: &super::regions::SECTION,
            min: 1,
            max: usize::MAX,
        },
        "",
        Absent::Off,
    )
    .doc(
        "instead of `file` (and of `offset_s`, `start_s`, `end_s`, `fade_in_s`, `fade_out_s`): \
         several regions of one or more files, placed in the song; where two overlap, the \
         earlier fades out and the later fades in over the overlap with `fade_curve`",
    );
    pub const GAIN_DB: Key = num("gain_db", -96.0, 24.0, "dB", 0.0).doc("fader").auto();
    pub const PAN: Key = num("pan", -1.0, 1.0, "", 0.0)
        .doc(
            "mono stems: constant-power pan law, -3 dB each side at centre (L = cos θ, R = sin θ, \
         θ = (pan+1)·π/4); stereo stems and buses: balance (the far side is turned down along \
         a quarter cosine, -3 dB at ±0.5, silent at ±1)",
        )
        .auto();
    pub const WIDTH: Key = num("width", 0.0, 2.0, "", 1.0)
        .doc(
            "stereo only: mid/side width, 0 mono, 1 as recorded, 2 twice the side signal (on a \
         track with a mono stem, an error)",
        )
        .auto();
    pub const OFFSET_S: Key = num("offset_s", 0.0, 3600.0, "s", 0.0)
        .doc("where the region starts in the song (rounded to the nearest frame)");
    pub const START_S: Key = num("start_s", 0.0, 86_400.0, "s", 0.0)
        .doc("the part of the stem that plays starts this far into the stem (before its end)");
    pub const END_S: Key = num_opt("end_s", 0.0, 86_400.0, "s")
        .default(Absent::Described("the stem's end"))
        .doc("... and ends here (seconds of the stem; after `start_s`, not past the stem's end)");
    pub const FADE_IN_S: Key = num("fade_in_s", 0.0, 3600.0, "s", 0.0).doc(
        "fade at the region's start: frame *i* of a fade-in over *F* frames is at gain \
         g(i/F) (the first frame silent); with `fade_out_s` not longer than the region",
    );
    pub const FADE_OUT_S: Key = num("fade_out_s", 0.0, 3600.0, "s", 0.0)
        .doc("fade at the region's end: the frame *r* frames before the end is at gain g(r/F)");
    pub const FADE_CURVE: Key = choice(
        "fade_curve",
        &crate::dsp::fade::FadeCurve::NAMES,
        Absent::Str("equal_power"),
    )
    .doc(
        "the shape g(t) of both fades: `\"linear\"` t, `\"equal_power\"` sin(πt/2), \
             `\"s_curve\"` (1 − cos πt)/2, `\"exponential\"` (1000^t − 1)/999",
    );
    pub const POLARITY_INVERT: Key = flag("polarity_invert", false).doc("flip the polarity");
    pub const MUTE: Key = flag("mute", false)
        .doc("silence the track and its sends (it still counts for the song's length)");
    pub const SOLO: Key = flag("solo", false).doc(
        "any solo mutes every track that is not soloed (`check` and `render` warn while a solo \
         is on; `--strict` fails on it)",
    );
    pub const OUTPUT: Key = key("output", Ty::Ref, "", Absent::Str("master"))
        .doc("where the signal goes: a bus's name or `\"master\"`");
    pub const SENDS: Key = key(
        "sends",
        Ty::Tables {
            of: &super::sends::SECTION,
            min: 0,
            max: usize::MAX,
        },
        "",
        Absent::Off,
    )
    .doc("sends to buses, tapped after pan");
    pub const FX: Key = key(
        "fx",
        Ty::Tagged {
            tag: "type",
            variants: super::fx::CHAIN,
            min: 0,
        },
        "",
        Absent::Off,
    )
    .doc("processor chain, first to last");

    pub const SECTION: Section = Section {
        id: "track",
        title: "[[track]]",
        doc: "",
        keys: &[
            &NAME,
            &FILE,
            &REGIONS,
            &GAIN_DB,
            &PAN,
            &WIDTH,
            &OFFSET_S,
            &START_S,
            &END_S,
            &FADE_IN_S,
            &FADE_OUT_S,
            &FADE_CURVE,
            &POLARITY_INVERT,
            &MUTE,
            &SOLO,
            &OUTPUT,
            &SENDS,
            &FX,
        ],
    };
}

/// `regions = [{ file, at_s, ... }]` of a track.
pub mod regions {
    use super::{Absent, Key, Section, Ty, key, num, num_opt};

    pub const FILE: Key = key("file", Ty::File, "", Absent::Required).doc(
        "the file this region plays (any stem format; mono plays dual mono; other rates are \
         resampled like stems)",
    );
    pub const AT_S: Key = num("at_s", 0.0, 3600.0, "s", 0.0)
        .doc("where the region starts in the song (rounded to the nearest frame)");
    pub const START_S: Key = num("start_s", 0.0, 86_400.0, "s", 0.0)
        .doc("the part of the file that plays starts this far into it (before its end)");
    pub const END_S: Key = num_opt("end_s", 0.0, 86_400.0, "s")
        .default(Absent::Described("the file's end"))
        .doc("... and ends here (seconds of the file; after `start_s`, not past the file's end)");
    pub const FADE_IN_S: Key = num("fade_in_s", 0.0, 3600.0, "s", 0.0).doc(
        "the region's own fade-in, as a track's; a crossfade into the region is at least as \
         long as the overlap",
    );
    pub const FADE_OUT_S: Key = num("fade_out_s", 0.0, 3600.0, "s", 0.0).doc(
        "the region's own fade-out, as a track's; with `fade_in_s` and the crossfades not \
         longer than the region",
    );
    pub const GAIN_DB: Key =
        num("gain_db", -96.0, 24.0, "dB", 0.0).doc("the region's level, before the track's chain");

    pub const SECTION: Section = Section {
        id: "track.regions",
        title: "regions",
        doc: "",
        keys: &[
            &FILE,
            &AT_S,
            &START_S,
            &END_S,
            &FADE_IN_S,
            &FADE_OUT_S,
            &GAIN_DB,
        ],
    };
}

/// `sends = [{ bus, level_db, pre_fader }]` of a track or bus.
pub mod sends {
    use super::{Absent, Key, Section, Ty, flag, key, num};

    pub const BUS: Key = key("bus", Ty::Ref, "", Absent::Required).doc("the bus fed");
    pub const LEVEL_DB: Key = num("level_db", -96.0, 12.0, "dB", 0.0)
        .doc("send level")
        .auto();
    pub const PRE_FADER: Key =
        flag("pre_fader", false).doc("tap before the fader (ignoring it) instead of after it");

    pub const SECTION: Section = Section {
        id: "sends",
        title: "sends",
        doc: "",
        keys: &[&BUS, &LEVEL_DB, &PRE_FADER],
    };
}

/// `[[bus]]`.
pub mod bus {
    use super::{Absent, Key, Section, Ty, flag, key};

    pub const NAME: Key =
        key("name", Ty::Text, "", Absent::Required).doc("unique among buses, not `\"master\"`");
    pub const MUTE: Key = flag("mute", false).doc("silence the bus and its sends");
    pub const OUTPUT: Key = key("output", Ty::Ref, "", Absent::Str("master"))
        .doc("`\"master\"` or another bus; a loop through outputs or sends is an error");

    pub const SECTION: Section = Section {
        id: "bus",
        title: "[[bus]]",
        doc: "",
        keys: &[
            &NAME,
            &super::track::GAIN_DB,
            &super::track::PAN,
            &super::track::WIDTH,
            &MUTE,
            &OUTPUT,
            &super::track::SENDS,
            &super::track::FX,
        ],
    };
}

/// `[master]`.
pub mod master {
    use super::{Absent, Key, Section, Ty, choice, key, num};

    pub const FX: Key = key(
        "fx",
        Ty::Tagged {
            tag: "type",
            variants: super::fx::MASTER_CHAIN,
            min: 0,
        },
        "",
        Absent::Off,
    )
    .doc("the master chain, applied to the mix bus (bus processors plus `multiband`)");
    pub const REFERENCE: Key = key(
        "reference",
        Ty::Table(&super::reference::SECTION),
        "",
        Absent::Off,
    )
    .doc("match the master to a reference track before the target stage");
    pub const TARGET: Key = key(
        "target",
        Ty::Table(&super::target::SECTION),
        "",
        Absent::Off,
    )
    .doc("the loudness target under a true-peak ceiling; always the last stage");
    pub const FADE_IN_S: Key = num("fade_in_s", 0.0, 600.0, "s", 0.0).doc(
        "fade-in of the whole song from its first frame, after the target stage and before \
         dither (frame *i* at gain g(i/F), as a track's)",
    );
    pub const FADE_OUT_S: Key = num("fade_out_s", 0.0, 600.0, "s", 0.0).doc(
        "fade-out of the whole song to its last frame (tail included), after the target stage \
         and before dither; the loudness gate judges each output before its fades",
    );
    pub const FADE_CURVE: Key = choice(
        "fade_curve",
        &crate::dsp::fade::FadeCurve::NAMES,
        Absent::Str("equal_power"),
    )
    .doc("the shape of the master's fades, as a track's `fade_curve`");

    pub const SECTION: Section = Section {
        id: "master",
        title: "[master]",
        doc: "",
        keys: &[
            &FX,
            &REFERENCE,
            &TARGET,
            &FADE_IN_S,
            &FADE_OUT_S,
            &FADE_CURVE,
        ],
    };
}

/// `[master].target`.
pub mod target {
    use super::{Absent, Key, Section, choice, num, num_opt};

    /// Loudness presets: (name, integrated LUFS, true-peak ceiling dBTP).
    pub const PRESETS: [(&str, f64, f64); 8] = [
        ("spotify", -14.0, -1.0),
        ("apple", -16.0, -1.0),
        ("youtube", -14.0, -1.0),
        ("tidal", -14.0, -1.0),
        ("amazon", -14.0, -2.0),
        ("deezer", -15.0, -1.0),
        ("ebu-r128", -23.0, -1.0),
        ("cd", -9.0, -0.3),
    ];
    const PRESET_NAMES: [&str; 8] = preset_names();

    const fn preset_names() -> [&'static str; 8] {
        let mut out = [""; 8];
        let mut i = 0;
        while i < PRESETS.len() {
            out[i] = PRESETS[i].0;
            i += 1;
        }
        out
    }

    pub const PRESET: Key = choice("preset", &PRESET_NAMES, Absent::Off)
        .doc("a platform's loudness and ceiling; the other keys override it");
    pub const LUFS: Key = num_opt("lufs", -40.0, -5.0, "LUFS")
        .default(Absent::Described("required unless `preset` is given"))
        .doc("integrated loudness (ITU-R BS.1770-4)");
    pub const CEILING_DBTP: Key = num("ceiling_dbtp", -12.0, 0.0, "dBTP", -1.0)
        .doc("true-peak ceiling (a preset's own unless given)");
    pub const TOLERANCE_LU: Key = num("tolerance_lu", 0.1, 3.0, "LU", 0.5)
        .doc("how far the delivered loudness may be from `lufs` before the gate fails (exit 3)");

    pub const SECTION: Section = Section {
        id: "master.target",
        title: "target",
        doc: "",
        keys: &[&LUFS, &CEILING_DBTP, &TOLERANCE_LU, &PRESET],
    };
}

/// `[master].reference`.
pub mod reference {
    use super::{Absent, Key, Section, Ty, key, num};

    pub const MATCH_CHOICES: [&str; 3] = ["eq", "loudness", "width"];

    pub const FILE: Key = key("file", Ty::File, "", Absent::Required)
        .doc("the reference track (any format mixdown reads)");
    pub const AMOUNT: Key =
        num("amount", 0.0, 1.0, "", 0.5).doc("how much of the difference is corrected");
    pub const MATCH: Key = key(
        "match",
        Ty::List {
            item: &Ty::Choice(&MATCH_CHOICES),
            min: 0,
            max: 3,
        },
        "",
        Absent::Described("all three"),
    )
    .doc("the dimensions matched: `\"eq\"`, `\"loudness\"`, `\"width\"`");

    pub const SECTION: Section = Section {
        id: "master.reference",
        title: "reference",
        doc: "",
        keys: &[&FILE, &AMOUNT, &MATCH],
    };
}

/// `[[output]]`.
pub mod output {
    use super::{Absent, Key, Section, Ty, choice, key};

    pub const PATH: Key =
        key("path", Ty::File, "", Absent::Required).doc("must end in `.wav`; folders are created");
    pub const SAMPLE_RATE: Key = key(
        "sample_rate",
        Ty::Integer {
            lo: crate::io::decode::MIN_RATE as i64,
            hi: crate::io::decode::MAX_RATE as i64,
        },
        "Hz",
        Absent::Int(44100),
    )
    .doc(
        "resampled from the session rate (exact length, no time shift, flat within 0.1 dB to \
         20 kHz, everything above the output's Nyquist frequency at least 100 dB down)",
    );
    pub const BIT_DEPTH: Key = key("bit_depth", Ty::IntOf(&[16, 24, 32]), "", Absent::Int(16))
        .doc("16 or 24 (PCM), 32 (IEEE float)")
        .limit("must be 16, 24 or 32 (float)");
    pub const DITHER: Key = choice("dither", &["none", "tpdf", "shaped"], Absent::Str("tpdf")).doc(
        "`\"tpdf\"` triangular, ±1 LSB; `\"shaped\"` TPDF with Wannamaker's 3-tap noise \
             shaping; ignored for 32-bit float",
    );

    pub const SECTION: Section = Section {
        id: "output",
        title: "[[output]]",
        doc: "",
        keys: &[&PATH, &SAMPLE_RATE, &BIT_DEPTH, &DITHER],
    };
}

/// `[metadata]`.
pub mod metadata {
    use super::{Absent, Key, Section, Ty, key, text};

    pub const TITLE: Key = text("title").doc("INAM, TIT2");
    pub const ARTIST: Key = text("artist").doc("IART, TPE1");
    pub const ALBUM: Key = text("album").doc("IPRD, TALB");
    pub const TRACK: Key = key("track", Ty::Integer { lo: 1, hi: 999 }, "", Absent::Off)
        .doc("track number: ITRK, TRCK");
    pub const YEAR: Key = key("year", Ty::Integer { lo: 1000, hi: 9999 }, "", Absent::Off)
        .doc("ICRD, TYER")
        .limit("must be a four-digit year");
    pub const GENRE: Key = text("genre").doc("IGNR, TCON");
    pub const ISRC: Key = text("isrc").doc(
        "12 characters CC-XXX-YY-NNNNN, hyphens optional, checked (TSRC; never INFO, whose \
         `ISRC` means \"source\")",
    );
    pub const UPC: Key = text("upc").doc("UPC-A or EAN-13, its check digit checked (TXXX:BARCODE)");
    pub const COMMENT: Key = text("comment").doc("ICMT, COMM");
    pub const COPYRIGHT: Key = text("copyright").doc("ICOP, TCOP");

    pub const SECTION: Section = Section {
        id: "metadata",
        title: "[metadata]",
        doc: "",
        keys: &[
            &TITLE, &ARTIST, &ALBUM, &TRACK, &YEAR, &GENRE, &ISRC, &UPC, &COMMENT, &COPYRIGHT,
        ],
    };
}

/// The processors of an `fx` chain, one section per `type`.
pub mod fx {
    use super::Variant;

    /// What a track or bus chain may hold.
    pub const CHAIN: &[Variant] = &[
        Variant {
            tag: "eq",
            section: &eq::SECTION,
        },
        Variant {
            tag: "compressor",
            section: &compressor::SECTION,
        },
        Variant {
            tag: "gate",
            section: &gate::SECTION,
        },
        Variant {
            tag: "deesser",
            section: &deesser::SECTION,
        },
        Variant {
            tag: "saturation",
            section: &saturation::SECTION,
        },
        Variant {
            tag: "delay",
            section: &delay::SECTION,
        },
        Variant {
            tag: "chorus",
            section: &chorus::SECTION,
        },
        Variant {
            tag: "reverb",
            section: &reverb::SECTION,
        },
        Variant {
            tag: "reverb",
            section: &reverb::IR_SECTION,
        },
        Variant {
            tag: "width",
            section: &width::SECTION,
        },
        Variant {
            tag: "gain",
            section: &gain::SECTION,
        },
    ];

    /// What the master chain may hold: everything, and `multiband`.
    pub const MASTER_CHAIN: &[Variant] = &[
        CHAIN[0],
        CHAIN[1],
        CHAIN[2],
        CHAIN[3],
        CHAIN[4],
        CHAIN[5],
        CHAIN[6],
        CHAIN[7],
        CHAIN[8],
        CHAIN[9],
        CHAIN[10],
        Variant {
            tag: "multiband",
            section: &multiband::SECTION,
        },
    ];

    pub mod gain {
        use super::super::{Absent, Key, Section, Ty, key};

        pub const GAIN_DB: Key = key(
            "gain_db",
            Ty::Number {
                lo: -96.0,
                hi: 24.0,
            },
            "dB",
            Absent::Required,
        )
        .doc("the gain")
        .auto();

        pub const SECTION: Section = Section {
            id: "fx.gain",
            title: "gain",
            doc: "A static gain.",
            keys: &[&GAIN_DB],
        };
    }

    pub mod eq {
        use super::super::{Absent, Key, Section, Ty, Variant, choice, hz, key, num, num_opt};

        pub const KINDS: &[Variant] = &[
            Variant {
                tag: "highpass",
                section: &PASS,
            },
            Variant {
                tag: "lowpass",
                section: &PASS,
            },
            Variant {
                tag: "lowshelf",
                section: &SHELF,
            },
            Variant {
                tag: "highshelf",
                section: &SHELF,
            },
            Variant {
                tag: "peak",
                section: &PEAK,
            },
            Variant {
                tag: "notch",
                section: &NOTCH,
            },
            Variant {
                tag: "bandpass",
                section: &BANDPASS,
            },
        ];

        pub const BANDS: Key = key(
            "bands",
            Ty::Tagged {
                tag: "kind",
                variants: KINDS,
                min: 1,
            },
            "",
            Absent::Required,
        )
        .doc("the bands, each `{ kind, freq_hz, ... }`; at least one");
        pub const PHASE: Key = choice("phase", &["minimum", "linear"], Absent::Str("minimum")).doc(
            "`\"linear\"` designs a symmetric FIR from the same curve, as long as the bands \
                 need to stay within 0.2 dB of it from 40 Hz to 20 kHz (at most 131071 taps at \
                 48 kHz), run by FFT convolution; its latency, half its length, is compensated; \
                 a band it cannot follow within that cap is a warning naming the band",
        );

        pub const SECTION: Section = Section {
            id: "fx.eq",
            title: "eq",
            doc: "Audio EQ Cookbook biquads in f64, minimum phase unless `phase = \"linear\"`.",
            keys: &[&BANDS, &PHASE],
        };

        pub const FREQ_HZ: Key = hz("freq_hz", 1.0, Absent::Required)
            .doc("the band's frequency")
            .auto();
        pub const GAIN_DB: Key = key(
            "gain_db",
            Ty::Number {
                lo: -30.0,
                hi: 30.0,
            },
            "dB",
            Absent::Required,
        )
        .doc("the band's gain")
        .auto();
        pub const PASS_Q: Key = num_opt("q", 0.1, 20.0, "")
            .doc("one 12 dB/oct section of this Q instead of a Butterworth slope")
            .auto();
        pub const SLOPE_DB_OCT: Key = key(
            "slope_db_oct",
            Ty::IntOf(&[6, 12, 18, 24, 36, 48]),
            "",
            Absent::Int(12),
        )
        .doc("Butterworth cascade; give `q` or `slope_db_oct`, not both")
        .limit("must be 6, 12, 18, 24, 36 or 48 dB per octave");
        pub const SHELF_Q: Key = num_opt("q", 0.1, 10.0, "")
            .doc("shelf Q instead of `slope`")
            .auto();
        pub const SHELF_SLOPE: Key = num("slope", 0.1, 1.0, "", 1.0)
            .doc("shelf slope; give `q` or `slope`, not both")
            .auto();
        pub const PEAK_Q: Key = num("q", 0.1, 40.0, "", 1.0).doc("bandwidth").auto();
        pub const NOTCH_Q: Key = num("q", 0.1, 100.0, "", 8.0).doc("bandwidth").auto();
        pub const BANDPASS_Q: Key = num("q", 0.1, 40.0, "", std::f64::consts::FRAC_1_SQRT_2)
            .doc("bandwidth")
            .auto();

        pub const PASS: Section = Section {
            id: "fx.eq.bands.pass",
            title: "highpass, lowpass",
            doc: "",
            keys: &[&FREQ_HZ, &PASS_Q, &SLOPE_DB_OCT],
        };
        pub const SHELF: Section = Section {
            id: "fx.eq.bands.shelf",
            title: "lowshelf, highshelf",
            doc: "",
            keys: &[&FREQ_HZ, &GAIN_DB, &SHELF_Q, &SHELF_SLOPE],
        };
        pub const PEAK: Section = Section {
            id: "fx.eq.bands.peak",
            title: "peak",
            doc: "",
            keys: &[&FREQ_HZ, &GAIN_DB, &PEAK_Q],
        };
        pub const NOTCH: Section = Section {
            id: "fx.eq.bands.notch",
            title: "notch",
            doc: "",
            keys: &[&FREQ_HZ, &NOTCH_Q],
        };
        pub const BANDPASS: Section = Section {
            id: "fx.eq.bands.bandpass",
            title: "bandpass",
            doc: "",
            keys: &[&FREQ_HZ, &BANDPASS_Q],
        };
    }

    pub mod compressor {
        use super::super::{Absent, Key, Section, Ty, choice, key, num};

        pub const THRESHOLD_DB: Key = num("threshold_db", -80.0, 0.0, "dB", -18.0)
            .doc("threshold")
            .auto();
        pub const RATIO: Key = num("ratio", 1.0, 100.0, ":1", 4.0).doc("ratio").auto();
        pub const KNEE_DB: Key = num("knee_db", 0.0, 24.0, "dB", 6.0)
            .doc("soft knee width")
            .auto();
        pub const ATTACK_MS: Key = num("attack_ms", 0.01, 500.0, "ms", 10.0)
            .doc("attack time")
            .auto();
        pub const RELEASE_MS: Key = num("release_ms", 1.0, 5000.0, "ms", 100.0)
            .doc("release time")
            .auto();
        pub const MAKEUP_DB: Key = num("makeup_db", -24.0, 24.0, "dB", 0.0)
            .doc("makeup gain")
            .auto();
        pub const DETECTOR: Key =
            choice("detector", &["peak", "rms"], Absent::Str("peak")).doc("level detector");
        pub const MIX: Key = num("mix", 0.0, 1.0, "", 1.0)
            .doc("wet share (below 1: parallel compression)")
            .auto();
        pub const SIDECHAIN: Key = key("sidechain", Ty::Ref, "", Absent::Off).doc(
            "a track name: keyed by that track's signal after its fx and pan, before its fader \
             (latency-aligned with the compressed signal; not its own track, no loops)",
        );

        pub const SECTION: Section = Section {
            id: "fx.compressor",
            title: "compressor",
            doc: "Feed-forward, stereo-linked, soft knee (Giannoulis, Massberg & Reiss 2012).",
            keys: &[
                &THRESHOLD_DB,
                &RATIO,
                &KNEE_DB,
                &ATTACK_MS,
                &RELEASE_MS,
                &MAKEUP_DB,
                &DETECTOR,
                &MIX,
                &SIDECHAIN,
            ],
        };
    }

    pub mod gate {
        use super::super::{Key, Section, num};

        pub const THRESHOLD_DB: Key = num("threshold_db", -100.0, 0.0, "dB", -50.0)
            .doc("opens here, closes 3 dB lower")
            .auto();
        pub const RANGE_DB: Key = num("range_db", 0.0, 100.0, "dB", 60.0)
            .doc("attenuation when closed")
            .auto();
        pub const ATTACK_MS: Key = num("attack_ms", 0.01, 100.0, "ms", 1.0)
            .doc("attack time")
            .auto();
        pub const HOLD_MS: Key = num("hold_ms", 0.0, 2000.0, "ms", 20.0)
            .doc("hold time")
            .auto();
        pub const RELEASE_MS: Key = num("release_ms", 1.0, 5000.0, "ms", 100.0)
            .doc("release time")
            .auto();

        pub const SECTION: Section = Section {
            id: "fx.gate",
            title: "gate",
            doc: "",
            keys: &[&THRESHOLD_DB, &RANGE_DB, &ATTACK_MS, &HOLD_MS, &RELEASE_MS],
        };
    }

    pub mod deesser {
        use super::super::{Absent, Key, Section, hz, num};

        pub const FREQ_HZ: Key = hz("freq_hz", 1000.0, Absent::Num(6500.0))
            .doc("centre of the band reduced (Q 1)")
            .auto();
        pub const THRESHOLD_DB: Key = num("threshold_db", -80.0, 0.0, "dB", -30.0)
            .doc("threshold")
            .auto();
        pub const RANGE_DB: Key = num("range_db", 0.0, 24.0, "dB", 6.0)
            .doc("most reduction")
            .auto();

        pub const SECTION: Section = Section {
            id: "fx.deesser",
            title: "deesser",
            doc: "Split-band: only the band around `freq_hz` is reduced.",
            keys: &[&FREQ_HZ, &THRESHOLD_DB, &RANGE_DB],
        };
    }

    pub mod saturation {
        use super::super::{Absent, Key, Section, choice, num};

        pub const MODEL: Key = choice(
            "model",
            &["tape", "tube", "soft_clip", "hard_clip"],
            Absent::Str("tape"),
        )
        .doc("the transfer curve");
        pub const DRIVE_DB: Key = num("drive_db", 0.0, 36.0, "dB", 6.0)
            .doc("gain into the curve")
            .auto();
        pub const MIX: Key = num("mix", 0.0, 1.0, "", 1.0).doc("wet share").auto();
        pub const OUTPUT_DB: Key = num("output_db", -24.0, 24.0, "dB", 0.0)
            .doc("output gain")
            .auto();

        pub const SECTION: Section = Section {
            id: "fx.saturation",
            title: "saturation",
            doc: "8x oversampled with antiderivative anti-aliasing (aliases stay 60 dB below a \
                  hard-driven 5 kHz sine).",
            keys: &[&MODEL, &DRIVE_DB, &MIX, &OUTPUT_DB],
        };
    }

    pub mod delay {
        use super::super::{Absent, Key, Section, flag, hz, num, num_opt, text};

        pub const TIME_MS: Key = num_opt("time_ms", 0.1, 5000.0, "ms")
            .default(Absent::Described("required unless `time` is given"))
            .doc("delay time; give `time_ms` or `time`, not both")
            .auto();
        pub const TIME: Key = text("time").doc(
            "a note value at `[session].tempo_bpm`: `\"1/1\"`..`\"1/32\"`, dotted `\"1/4.\"`, \
             triplet `\"1/8t\"` (no longer than `time_ms` may be)",
        );
        pub const FEEDBACK: Key = num("feedback", 0.0, 0.95, "", 0.3)
            .doc("share fed back")
            .auto();
        pub const MIX: Key = num("mix", 0.0, 1.0, "", 0.25).doc("wet share").auto();
        pub const PING_PONG: Key =
            flag("ping_pong", false).doc("echoes alternate left/right from a mono sum");
        pub const HIGHCUT_HZ: Key = hz("highcut_hz", 20.0, Absent::Off)
            .doc("12 dB/oct lowpass inside the feedback loop, so each repeat is darker")
            .auto();
        pub const LOWCUT_HZ: Key = hz("lowcut_hz", 10.0, Absent::Off)
            .doc("12 dB/oct highpass inside the feedback loop (below `highcut_hz`)")
            .auto();

        pub const SECTION: Section = Section {
            id: "fx.delay",
            title: "delay",
            doc: "",
            keys: &[
                &TIME_MS,
                &TIME,
                &FEEDBACK,
                &MIX,
                &PING_PONG,
                &HIGHCUT_HZ,
                &LOWCUT_HZ,
            ],
        };
    }

    pub mod chorus {
        use super::super::{Key, Section, num};

        pub const RATE_HZ: Key = num("rate_hz", 0.01, 10.0, "Hz", 0.8)
            .doc("modulation rate")
            .auto();
        pub const DEPTH_MS: Key = num("depth_ms", 0.0, 20.0, "ms", 3.0)
            .doc("modulation depth")
            .auto();
        pub const MIX: Key = num("mix", 0.0, 1.0, "", 0.5).doc("wet share").auto();

        pub const SECTION: Section = Section {
            id: "fx.chorus",
            title: "chorus",
            doc: "",
            keys: &[&RATE_HZ, &DEPTH_MS, &MIX],
        };
    }

    pub mod reverb {
        use super::super::{Absent, Key, Section, Ty, choice, key, num};

        pub const MODEL: Key = choice("model", &["room", "hall", "plate"], Absent::Required)
            .doc("a 16-line feedback delay network");
        pub const DECAY_S: Key = key(
            "decay_s",
            Ty::Number { lo: 0.1, hi: 20.0 },
            "s",
            Absent::ByChoice {
                key: "model",
                values: &[("room", 0.8), ("hall", 2.5), ("plate", 1.8)],
            },
        )
        .doc("RT60")
        .auto();
        pub const DAMPING: Key = num("damping", 0.0, 1.0, "", 0.5)
            .doc("high frequencies decay faster")
            .auto();
        pub const WIDTH: Key = num("width", 0.0, 2.0, "", 1.0)
            .doc("stereo width of the tail")
            .auto();
        pub const PREDELAY_MS: Key = num("predelay_ms", 0.0, 500.0, "ms", 0.0)
            .doc("delay before the reverb")
            .auto();
        /// A convolution reverb's predelay: fixed, since it absorbs the convolver's latency.
        pub const IR_PREDELAY_MS: Key = num("predelay_ms", 0.0, 500.0, "ms", 0.0)
            .doc("delay before the reverb")
            .auto();
        pub const MIX: Key = num("mix", 0.0, 1.0, "", 1.0).doc("wet share").auto();
        pub const IR: Key = key("ir", Ty::File, "", Absent::Required).doc(
            "an impulse response (any supported format and rate, resampled; its level is kept \
             as recorded)",
        );

        pub const SECTION: Section = Section {
            id: "fx.reverb",
            title: "reverb (algorithmic)",
            doc: "",
            keys: &[&MODEL, &DECAY_S, &PREDELAY_MS, &DAMPING, &WIDTH, &MIX],
        };
        pub const IR_SECTION: Section = Section {
            id: "fx.reverb.ir",
            title: "reverb (convolution)",
            doc: "Uniformly partitioned FFT convolution.",
            keys: &[&IR, &IR_PREDELAY_MS, &MIX],
        };
    }

    pub mod width {
        use super::super::{Absent, Key, Section, hz, num};

        pub const AMOUNT: Key = num("amount", 0.0, 2.0, "", 1.0)
            .doc("0 mono, 1 as is, 2 twice the side signal")
            .auto();
        pub const MONO_BELOW_HZ: Key = hz("mono_below_hz", 20.0, Absent::Off)
            .doc("the side signal below it is removed with a Linkwitz-Riley crossover")
            .auto();

        pub const SECTION: Section = Section {
            id: "fx.width",
            title: "width",
            doc: "Mid/side.",
            keys: &[&AMOUNT, &MONO_BELOW_HZ],
        };
    }

    pub mod multiband {
        use super::super::{Absent, Key, Section, Ty, key};
        use super::compressor;

        pub const CROSSOVERS_HZ: Key = key(
            "crossovers_hz",
            Ty::List {
                item: &Ty::HzEnvelope { lo: 20.0 },
                min: 1,
                max: 4,
            },
            "Hz",
            Absent::Required,
        )
        .doc(
            "ascending, at least a third of an octave apart (an envelope's at every time, against \
             its neighbours); an automated crossover glides to each value (30 ms time constant)",
        );
        pub const BANDS: Key = key(
            "bands",
            Ty::Tables {
                of: &BAND,
                min: 2,
                max: 5,
            },
            "",
            Absent::Required,
        )
        .doc("one table of compressor keys per band, lowest first: one more than crossovers");

        pub const SECTION: Section = Section {
            id: "fx.multiband",
            title: "multiband",
            doc: "Master only: Linkwitz-Riley 4th-order crossovers (allpass-compensated: with \
                  the compressors idle the bands sum flat) and a compressor per band.",
            keys: &[&CROSSOVERS_HZ, &BANDS],
        };

        pub const BAND: Section = Section {
            id: "fx.multiband.bands",
            title: "multiband bands",
            doc: "The compressor's keys and defaults, without `sidechain`.",
            keys: &[
                &compressor::THRESHOLD_DB,
                &compressor::RATIO,
                &compressor::KNEE_DB,
                &compressor::ATTACK_MS,
                &compressor::RELEASE_MS,
                &compressor::MAKEUP_DB,
                &compressor::DETECTOR,
                &compressor::MIX,
            ],
        };
    }
}

/// Every section reachable from the top level, each once, in reading order (a section before
/// the sections its keys hold).
pub fn sections() -> Vec<&'static Section> {
    fn walk(s: &'static Section, out: &mut Vec<&'static Section>) {
        if out.iter().any(|o| o.id == s.id) {
            return;
        }
        out.push(s);
        for k in s.keys {
            walk_ty(&k.ty, out);
        }
    }
    fn walk_ty(ty: &Ty, out: &mut Vec<&'static Section>) {
        match *ty {
            Ty::Table(s) | Ty::Tables { of: s, .. } => walk(s, out),
            Ty::Tagged { variants, .. } => {
                for v in variants {
                    walk(v.section, out);
                }
            }
            Ty::List { item, .. } => walk_ty(item, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&root::SECTION, &mut out);
    out
}

/// The tag values of a tagged array, each once, in table order.
pub fn tags(variants: &[Variant]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in variants {
        if !out.contains(&v.tag) {
            out.push(v.tag);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_keys_unique_within_a_section() {
        let all = sections();
        for (i, s) in all.iter().enumerate() {
            assert!(!all[..i].iter().any(|o| o.id == s.id), "{}", s.id);
            let names = s.names();
            for (j, n) in names.iter().enumerate() {
                assert!(!names[..j].contains(n), "{}.{n} twice", s.id);
            }
        }
        assert!(all.len() > 20, "{}", all.len());
    }

    #[test]
    fn every_default_lies_in_its_range_and_choices() {
        for s in sections() {
            for k in s.keys {
                if let (Some((lo, hi)), Some(d)) = (k.range(), k.num_default()) {
                    assert!(d >= lo && d <= hi, "{}.{} default {d}", s.id, k.name);
                }
                if let Absent::ByChoice { key, values } = k.default {
                    let by = s.key(key).expect("the key a default depends on");
                    for (c, v) in values {
                        assert!(by.choices().contains(c), "{}.{}: {c}", s.id, k.name);
                        let (lo, hi) = k.range().unwrap();
                        assert!(*v >= lo && *v <= hi, "{}.{}", s.id, k.name);
                    }
                }
                match (k.ty, k.default) {
                    (Ty::Choice(c), Absent::Str(d)) => assert!(c.contains(&d), "{}", k.name),
                    (Ty::IntOf(c), Absent::Int(d)) => assert!(c.contains(&d), "{}", k.name),
                    (Ty::AutoOrSeconds { .. }, Absent::Str(d)) => assert_eq!(d, "auto"),
                    _ => {}
                }
                assert!(!k.doc.is_empty(), "{}.{} has no doc", s.id, k.name);
            }
        }
    }
}
