//! `mixdown init STEMS_DIR`: a starter session for a folder of stems. One track per audio file
//! (natural order, names from the file names), centred, one common gain that leaves the mix bus
//! 6 dB of headroom, measured by mixing the stems at unity through the engine; a `[master]`
//! with a streaming loudness target and one `[[output]]`. The text is validated as a session
//! before it is written, and an existing file is replaced only with `--force`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::cli::InitArgs;
use crate::error::{AppError, exit};
use crate::io::decode::{self, StemInfo};
use crate::io::stage;
use crate::master::premaster;
use crate::session::paths::normalize;
use crate::session::{LoadOptions, SessionError, validate};

use super::ui::{plural, progress_bar, shown};

/// Headroom the mix bus is left with, dB below full scale (sample peak).
pub const HEADROOM_DB: f64 = 6.0;

/// File extensions (lower case) of the formats mixdown decodes.
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga",
];

/// The loudness target the starter session's `[master]` names.
const PRESET: &str = "spotify";

/// Track fader range (`[[track]].gain_db`), dB.
const GAIN_RANGE_DB: (f64, f64) = (-96.0, 24.0);

/// One stem found in the folder.
struct Stem {
    path: PathBuf,
    name: String,
    info: StemInfo,
}

pub fn run(args: &InitArgs) -> Result<u8, AppError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let session_path = normalize(&cwd, &args.output);
    refuse_existing(&args.output, &session_path, args.force)?;
    let stems_dir = normalize(&cwd, &args.stems_dir);
    let files = audio_files(&stems_dir, &args.stems_dir)?;
    let names = track_names(&files);
    let mut stems = Vec::with_capacity(files.len());
    for (path, name) in files.into_iter().zip(names) {
        let info = decode::probe(&path).map_err(|source| AppError::Input {
            path: path.clone(),
            source,
        })?;
        stems.push(Stem { path, name, info });
    }
    let rate = common_rate(&stems);
    let song = song_name(&stems_dir);
    let session_dir = session_path
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();

    // Measure the plain sum: the same session at unity gain, centred, no master processing.
    let unity = session_text(&song, rate, &stems, &session_dir, None);
    let s = validate::validate(&session_path, &unity, &LoadOptions::default()).map_err(|d| {
        SessionError::Invalid {
            path: session_path.clone(),
            diagnostics: d,
        }
    })?;
    let pb = progress_bar(args.quiet, "measuring");
    let measured = premaster::render(&s, &pb);
    pb.finish_and_clear();
    let (_, pre) = measured?;
    let peak_dbfs = pre.mix_levels.sample_peak_dbfs;
    let staging = Staging::new(peak_dbfs, pre.mix_levels.integrated_lufs);

    let text = session_text(&song, rate, &stems, &session_dir, Some(&staging));
    // What init writes must load as a session; anything else is a bug here, said as such.
    validate::validate(&session_path, &text, &LoadOptions::default()).map_err(|d| {
        SessionError::Invalid {
            path: session_path.clone(),
            diagnostics: d,
        }
    })?;
    // The measurement can take a while: the file may have appeared meanwhile.
    refuse_existing(&args.output, &session_path, args.force)?;
    if let Some(dir) = session_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    stage::write_atomic(&session_path, text.as_bytes())?;
    if !args.quiet {
        eprintln!(
            "mixdown: wrote {} ({} track{}, {} Hz): {}",
            shown(&session_path),
            stems.len(),
            plural(stems.len()),
            rate,
            staging.summary()
        );
        eprintln!(
            "  next: mixdown check {0}; mixdown render {0}",
            shown(&session_path)
        );
    }
    Ok(exit::OK)
}

/// Exit 2 when `path` exists and may not be replaced (or is a folder).
fn refuse_existing(given: &Path, path: &Path, force: bool) -> Result<(), AppError> {
    if path.is_dir() {
        return Err(AppError::Usage(format!(
            "{} is a folder; name the session file to write, e.g. -o {}",
            given.display(),
            given.join("session.toml").display()
        )));
    }
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(AppError::Usage(format!(
            "{} exists; mixdown init does not overwrite it (--force replaces it, or -o names another file)",
            given.display()
        )));
    }
    Ok(())
}

/// The audio files directly in `dir` (absolute; `given` names it in messages), by extension,
/// hidden files skipped, in natural order.
fn audio_files(dir: &Path, given: &Path) -> Result<Vec<PathBuf>, AppError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        AppError::Usage(format!(
            "{}: cannot read the stems folder: {e}",
            given.display()
        ))
    })?;
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|source| AppError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let audio = path
            .extension()
            .map(|x| x.to_string_lossy().to_lowercase())
            .is_some_and(|x| AUDIO_EXTENSIONS.contains(&x.as_str()));
        if audio && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(AppError::Usage(format!(
            "{}: no audio files (.{}) in this folder",
            given.display(),
            AUDIO_EXTENSIONS.join(", .")
        )));
    }
    files.sort_by(|a, b| {
        let (x, y) = (file_name(a), file_name(b));
        natural_cmp(&x, &y).then_with(|| x.cmp(&y))
    });
    Ok(files)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Natural order: runs of digits compare as numbers (`2` before `10`), the rest
/// case-insensitively.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (na, nb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                let ord = x.to_lowercase().cmp(y.to_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Track names from file names: the stem of the name, lower case, words joined by `-`, a
/// leading take number (`01 `, `2_`, `03. `) dropped when words follow; `track` when nothing
/// is left; `-2`, `-3`, ... on repeats, so every name is unique.
fn track_names(files: &[PathBuf]) -> Vec<String> {
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = sanitize(&stem);
        let mut name = base.clone();
        let mut k = used.get(&base).copied().unwrap_or(0);
        while out.contains(&name) {
            k += 1;
            name = format!("{base}-{}", k + 1);
        }
        used.insert(base, k);
        out.push(name);
    }
    out
}

/// A file stem as a track name (see [`track_names`]).
pub fn sanitize(stem: &str) -> String {
    let words: Vec<String> = stem
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let numbered = words.len() > 1 && words[0].chars().all(|c| c.is_ascii_digit());
    let words = if numbered { &words[1..] } else { &words[..] };
    if words.is_empty() {
        "track".into()
    } else {
        words.join("-")
    }
}

/// The rate most stems share (ties: the higher), as the session's own default.
fn common_rate(stems: &[Stem]) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for s in stems {
        *counts.entry(s.info.sample_rate).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(rate, n)| (n, rate))
        .map_or(48000, |(rate, _)| rate)
}

/// The song's name: the stems folder's name, or its parent's when the folder is just `stems`.
fn song_name(dir: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let own = name(dir).unwrap_or_else(|| "song".into());
    if own.eq_ignore_ascii_case("stems")
        && let Some(parent) = dir.parent().and_then(name)
    {
        return parent;
    }
    own
}

/// `to` relative to the folder `from` (both absolute and normalized), with `/` separators.
pub fn relative(from: &Path, to: &Path) -> String {
    let a: Vec<Component<'_>> = from.components().collect();
    let b: Vec<Component<'_>> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Different roots (another drive): only the absolute path works.
    if common == 0 {
        return to.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// The gain staging init measured and chose.
struct Staging {
    /// Sample peak of the mix bus with every track at unity, dBFS (`-inf` for silence).
    unity_peak_dbfs: f64,
    /// Integrated loudness of that sum, LUFS.
    unity_lufs: Option<f64>,
    /// The common track gain, dB.
    gain_db: f64,
}

impl Staging {
    /// The common gain that brings `peak_dbfs` to `-HEADROOM_DB`: rounded down to 0.01 dB, so
    /// the headroom is never less than promised, and within the fader's range.
    fn new(peak_dbfs: f64, lufs: Option<f64>) -> Self {
        let gain_db = if peak_dbfs.is_finite() {
            ((-HEADROOM_DB - peak_dbfs) * 100.0)
                .floor()
                .clamp(GAIN_RANGE_DB.0 * 100.0, GAIN_RANGE_DB.1 * 100.0)
                / 100.0
        } else {
            0.0
        };
        Staging {
            unity_peak_dbfs: peak_dbfs,
            unity_lufs: lufs,
            gain_db,
        }
    }

    fn staged_peak_dbfs(&self) -> f64 {
        self.unity_peak_dbfs + self.gain_db
    }

    fn summary(&self) -> String {
        if !self.unity_peak_dbfs.is_finite() {
            return "the stems are silent; every track is at unity gain".into();
        }
        format!(
            "gain {:+.2} dB on every track (the sum at unity peaked at {:+.2} dBFS; now {:+.2} dBFS)",
            self.gain_db,
            self.unity_peak_dbfs,
            self.staged_peak_dbfs()
        )
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn channels_text(n: usize) -> &'static str {
    if n == 1 { "mono" } else { "stereo" }
}

/// The session text: with `staging`, the starter session as written; without, the same tracks
/// at unity gain and nothing else (what is measured).
fn session_text(
    song: &str,
    rate: u32,
    stems: &[Stem],
    session_dir: &Path,
    staging: Option<&Staging>,
) -> String {
    let mut t = String::new();
    let gain_db = staging.map_or(0.0, |s| s.gain_db);
    if let Some(st) = staging {
        let _ = writeln!(
            t,
            "# Starter session written by `mixdown init` for {} stem{}. Paths are relative to this file.",
            stems.len(),
            plural(stems.len())
        );
        t.push_str(
            "# Check it with `mixdown check FILE`, render it with `mixdown render FILE`.\n#\n",
        );
        if st.unity_peak_dbfs.is_finite() {
            let loudness = st
                .unity_lufs
                .map_or(String::new(), |l| format!("; {l:.1} LUFS integrated"));
            let _ = writeln!(
                t,
                "# Gain staging (measured): every stem decoded and summed at unity gain, centred: the mix\n\
                 # bus peaked at {:+.2} dBFS (sample peak{loudness}). Every track gets the same gain,\n\
                 # {:+.2} dB, so the plain sum peaks at {:+.2} dBFS: {HEADROOM_DB} dB of headroom for the master.",
                st.unity_peak_dbfs,
                st.gain_db,
                st.staged_peak_dbfs()
            );
        } else {
            t.push_str(
                "# Gain staging: the stems are silent, so every track is left at unity gain.\n",
            );
        }
        t.push('\n');
    }
    let shared = stems.iter().filter(|s| s.info.sample_rate == rate).count();
    t.push_str("[session]\n");
    let _ = writeln!(t, "name = {}", quoted(song));
    let _ = writeln!(
        t,
        "sample_rate = {rate}   # {shared} of {} stem{} at this rate; others are resampled",
        stems.len(),
        plural(stems.len())
    );
    for s in stems {
        t.push_str("\n[[track]]\n");
        let _ = writeln!(t, "name = {}", quoted(&s.name));
        let _ = writeln!(
            t,
            "file = {}   # {}, {} Hz, {}",
            quoted(&relative(session_dir, &s.path)),
            s.info.format,
            s.info.sample_rate,
            channels_text(s.info.channels)
        );
        let _ = writeln!(t, "gain_db = {gain_db:.2}");
        t.push_str("pan = 0.0\n");
    }
    if staging.is_some() {
        t.push_str(
            "\n# Mastering: the target stage runs last; it brings the master to the preset's loudness\n\
             # with one static gain and a true-peak limiter at its ceiling. Other presets: apple (-16),\n\
             # youtube, tidal (-14), amazon (-14, -2 dBTP), deezer (-15), ebu-r128 (-23), cd (-9);\n\
             # or target = { lufs = -14.0, ceiling_dbtp = -1.0 }. A chain goes before it, e.g.\n\
             # fx = [{ type = \"eq\", bands = [{ kind = \"highpass\", freq_hz = 25.0 }] }].\n",
        );
        t.push_str("[master]\n");
        let _ = writeln!(
            t,
            "target = {{ preset = {} }}   # -14 LUFS, -1 dBTP",
            quoted(PRESET)
        );
        t.push_str(
            "\n# 16-bit, 44.1 kHz with TPDF dither; bit_depth = 24 and the session rate for a mastering engineer.\n",
        );
        t.push_str("[[output]]\n");
        let _ = writeln!(
            t,
            "path = {}",
            quoted(&format!("out/{}.wav", sanitize(song)))
        );
        t.push_str("sample_rate = 44100\nbit_depth = 16\n");
    }
    t
}
