//! Album files: the songs' session files in order, the metadata they share (each song inherits it
//! and may override it), one loudness policy and target, and how each song joins the next
//! (trims, fades, gap). Validated like session files: every problem at once, located by file, line
//! and column, with the key path, the value and the limit; the songs' session files are validated
//! too, and what only the album can see (two songs writing one file, targets that disagree,
//! a track number or ISRC used twice) is located in the album file.

use std::path::{Path, PathBuf};

use crate::io::tags::Tags;

use super::diag::{Diagnostic, Diags, Source, Span};
use super::keys;
use super::master::target;
use super::metadata::{check_isrc, check_upc};
use super::model::{Seams, Session, Target};
use super::paths::{normalize, same_file};
use super::seed::dither_seed;
use super::validate::{LoadOptions, array_of_tables, labelled, locate, parse_toml};
use super::walk::{Tbl, fmt_num};
use super::{SessionError, load};

/// How the album sets the songs' levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Every song to the target.
    Track,
    /// One static gain for every song: the loudest meets the target, the others keep their
    /// loudness relative to it (AES TD1008).
    Album,
}

impl Policy {
    /// As the album file writes it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Track => "track",
            Policy::Album => "album",
        }
    }
}

/// What the album sets for one song: applied to its session by [`apply_song`], here and when
/// a plan is applied on another machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SongSettings {
    /// Tags the album sets (its shared ones, then the song's own); fields left `None` keep
    /// the session's `[metadata]`.
    pub tags: Tags,
    /// The album's target, replacing the session's; `None` keeps the session's.
    pub target: Option<Target>,
    pub seams: Seams,
    /// The album policy sets the gain (see [`Session::album_gain`]).
    pub album_gain: bool,
}

/// One song of an album.
#[derive(Debug, Clone)]
pub struct Song {
    /// Absolute path of its session file.
    pub session: PathBuf,
    /// The session as written in the album file (for messages).
    pub session_display: String,
    pub settings: SongSettings,
}

/// A validated album file.
#[derive(Debug, Clone)]
pub struct Album {
    /// Absolute path of the album file.
    pub file: PathBuf,
    /// The album's title, if it has one.
    pub title: Option<String>,
    pub policy: Policy,
    /// The target every song is mastered to (the album's, or the one all session files share).
    pub target: Target,
    pub songs: Vec<Song>,
    /// Where the album report goes (absolute).
    pub report: PathBuf,
}

/// The session `s` as an album's song: the album's tags over the session's, its target and
/// seams. The dither seed is made again, since the target shapes the audio.
pub fn apply_song(s: &mut Session, settings: &SongSettings) {
    let t = &settings.tags;
    let tags = &mut s.tags;
    let over = |mine: &mut Option<String>, album: &Option<String>| {
        if album.is_some() {
            mine.clone_from(album);
        }
    };
    over(&mut tags.title, &t.title);
    over(&mut tags.artist, &t.artist);
    over(&mut tags.album, &t.album);
    over(&mut tags.album_artist, &t.album_artist);
    over(&mut tags.genre, &t.genre);
    over(&mut tags.isrc, &t.isrc);
    over(&mut tags.upc, &t.upc);
    over(&mut tags.comment, &t.comment);
    over(&mut tags.copyright, &t.copyright);
    tags.track = t.track.or(tags.track);
    tags.year = t.year.or(tags.year);
    if let Some(target) = &settings.target {
        s.master.target = Some(target.clone());
    }
    s.seams = settings.seams;
    s.album_gain = settings.album_gain;
    s.seed = dither_seed(s);
}

/// Read and validate an album file and every song's session file; the songs' session files
/// come back with the album applied ([`apply_song`]), in album order.
pub fn load_album(
    path: &Path,
    report: Option<&Path>,
    sessions: &LoadOptions,
) -> Result<(Album, Vec<Session>), SessionError> {
    let text = std::fs::read_to_string(path).map_err(|source| SessionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    validate_album(path, &text, report, sessions).map_err(|diagnostics| SessionError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    })
}

/// The keys a `[[song]]` may set.
const SONG_KEYS: &[&str] = &[
    "session",
    "title",
    "artist",
    "track",
    "isrc",
    "year",
    "genre",
    "comment",
    "copyright",
    "trim_head_s",
    "trim_tail_s",
    "fade_in_s",
    "fade_out_s",
    "gap_after_s",
];

/// A song as read from the album file, with where its keys were written.
struct RawSong {
    display: String,
    abs: Option<PathBuf>,
    session_span: Span,
    path: String,
    settings: SongSettings,
}

/// Validate album text; `file` is the album path as given (messages), its folder the base of
/// relative paths; every song's session is loaded with `opts` (`full_scan` for `check`).
pub fn validate_album(
    file: &Path,
    text: &str,
    report: Option<&Path>,
    opts: &LoadOptions,
) -> Result<(Album, Vec<Session>), Vec<Diagnostic>> {
    let src = Source::new(file, text);
    let mut d = Diags::new(src);
    let Some(root) = parse_toml(&mut d, text) else {
        return Err(d.into_sorted());
    };
    let (abs_file, dir) = locate(file);
    let root = Tbl::new(root.get_ref(), root.span(), String::new());
    root.check_keys(&mut d, &["album", "song"]);

    let mut shared = Tags::default();
    let mut policy = Policy::Album;
    let mut album_target: Option<(Target, Span)> = None;
    if let Some(a) = root.table(&mut d, "album") {
        a.check_keys(
            &mut d,
            &[
                "title",
                "artist",
                "upc",
                "year",
                "genre",
                "copyright",
                "comment",
                "loudness",
                "target",
            ],
        );
        let text = |d: &mut Diags<'_>, k: &str| a.str(d, k).map(|s| s.v).filter(|s| !s.is_empty());
        shared.album = text(&mut d, "title");
        shared.album_artist = text(&mut d, "artist");
        shared.genre = text(&mut d, "genre");
        shared.copyright = text(&mut d, "copyright");
        shared.comment = text(&mut d, "comment");
        shared.year = year(&mut d, &a);
        if let Some(upc) = a.str(&mut d, "upc") {
            match check_upc(&upc.v) {
                Ok(code) => shared.upc = Some(code),
                Err((problem, help)) => {
                    d.bad_value_help(&upc.span, &a.key_path("upc"), problem, help)
                }
            }
        }
        if let Some(p) = a.choice(&mut d, "loudness", &["track", "album"]) {
            policy = if p.v == "track" {
                Policy::Track
            } else {
                Policy::Album
            };
        }
        album_target = a
            .table(&mut d, "target")
            .and_then(|t| target(&mut d, &t).map(|x| (x, t.span.clone())));
    }

    let song_tbls = array_of_tables(&mut d, &root, "song");
    if song_tbls.is_empty() {
        let empty = match root.get("song") {
            None => Some(0..0),
            Some(v) if matches!(v.get_ref(), toml::de::DeValue::Array(a) if a.is_empty()) => {
                Some(v.span())
            }
            // Anything else was reported as the wrong type.
            Some(_) => None,
        };
        if let Some(span) = empty {
            d.push(
                Some(&span),
                "song",
                ": the album has no songs".into(),
                Some(
                    "add a [[song]] with session = \"path/to/session.toml\" for each song, in order"
                        .into(),
                ),
            );
        }
    }
    let mut songs: Vec<RawSong> = Vec::new();
    let mut tracks: Vec<(u32, usize)> = Vec::new();
    let mut isrcs: Vec<(String, usize)> = Vec::new();
    for (i, t) in song_tbls.iter().enumerate() {
        let session = t.str(&mut d, "session");
        let t = labelled(t, session.as_ref().map_or("", |s| s.v.as_str()));
        t.check_keys(&mut d, SONG_KEYS);
        let mut tags = shared.clone();
        // The album artist is every song's artist unless the song or its session says otherwise.
        tags.artist = None;
        let text = |d: &mut Diags<'_>, k: &str| t.str(d, k).map(|s| s.v).filter(|s| !s.is_empty());
        tags.title = text(&mut d, "title");
        if let Some(a) = text(&mut d, "artist") {
            tags.artist = Some(a);
        }
        for (k, field) in [
            ("genre", &mut tags.genre),
            ("comment", &mut tags.comment),
            ("copyright", &mut tags.copyright),
        ] {
            if let Some(x) = text(&mut d, k) {
                *field = Some(x);
            }
        }
        if let Some(y) = year(&mut d, &t) {
            tags.year = Some(y);
        }
        let number = t
            .int_of(&mut d, &keys::metadata::TRACK)
            .map(|n| (n as u32, t.span_of(keys::metadata::TRACK.name)));
        let track = number.as_ref().map_or(i as u32 + 1, |n| n.0);
        if let Some(&(_, first)) = tracks.iter().find(|(n, _)| *n == track) {
            let span = number.map_or(t.span.clone(), |n| n.1);
            d.bad_value_help(
                &span,
                &t.key_path("track"),
                format!("track number {track} is also song[{first}]'s"),
                "every song needs its own track number (the default is its place in the album)",
            );
        }
        tracks.push((track, i));
        tags.track = Some(track);
        if let Some(isrc) = t.str(&mut d, "isrc") {
            match check_isrc(&isrc.v) {
                Ok(code) => {
                    if let Some((_, first)) = isrcs.iter().find(|(c, _)| *c == code) {
                        d.bad_value_help(
                            &isrc.span,
                            &t.key_path("isrc"),
                            format!("song[{first}] has the same ISRC"),
                            "an ISRC names one recording: give each song its own",
                        );
                    }
                    isrcs.push((code.clone(), i));
                    tags.isrc = Some(code);
                }
                Err((problem, help)) => {
                    d.bad_value_help(&isrc.span, &t.key_path("isrc"), problem, help)
                }
            }
        }
        let seams = Seams {
            trim_head_s: t.num_in(&mut d, "trim_head_s", 0.0, 0.0, 3600.0, "s"),
            trim_tail_s: t.num_in(&mut d, "trim_tail_s", 0.0, 0.0, 3600.0, "s"),
            fade_in_s: t.num_in(&mut d, "fade_in_s", 0.0, 0.0, 600.0, "s"),
            fade_out_s: t.num_in(&mut d, "fade_out_s", 0.0, 0.0, 600.0, "s"),
            gap_after_s: t.num_in(&mut d, "gap_after_s", 0.0, 0.0, 60.0, "s"),
        };
        let abs = match &session {
            None => {
                t.require(
                    &mut d,
                    "session",
                    "the song's session file, relative to the album file",
                );
                None
            }
            Some(s) if s.v.trim().is_empty() => {
                d.bad_value(&s.span, &t.key_path("session"), "must name a session file");
                None
            }
            Some(s) => {
                let abs = normalize(&dir, Path::new(&s.v));
                if let Some(first) = songs
                    .iter()
                    .position(|o| o.abs.as_ref().is_some_and(|p| same_file(p, &abs)))
                {
                    d.bad_value_help(
                        &s.span,
                        &t.key_path("session"),
                        format!("song[{first}] is the same session"),
                        "an album lists each song once",
                    );
                }
                if abs.is_file() {
                    Some(abs)
                } else {
                    d.bad_value_help(
                        &s.span,
                        &t.key_path("session"),
                        "no such file",
                        format!("resolved to {}", abs.display()),
                    );
                    None
                }
            }
        };
        songs.push(RawSong {
            display: session.as_ref().map_or(String::new(), |s| s.v.clone()),
            abs,
            session_span: session.map_or(t.span.clone(), |s| s.span),
            path: t.path.clone(),
            settings: SongSettings {
                tags,
                target: album_target.as_ref().map(|t| t.0.clone()),
                seams,
                album_gain: policy == Policy::Album,
            },
        });
    }

    // The songs' session files: every problem in them too, located in their own files.
    let mut sessions: Vec<Option<Session>> = Vec::with_capacity(songs.len());
    let mut inner: Vec<Diagnostic> = Vec::new();
    for s in &songs {
        let Some(abs) = &s.abs else {
            sessions.push(None);
            continue;
        };
        match load(abs, opts) {
            Ok(mut session) => {
                apply_song(&mut session, &s.settings);
                sessions.push(Some(session));
            }
            Err(SessionError::Invalid { diagnostics, .. }) => {
                inner.extend(diagnostics);
                sessions.push(None);
            }
            Err(e @ SessionError::Read { .. }) => {
                d.bad_value(&s.session_span, &format!("{}.session", s.path), e);
                sessions.push(None);
            }
        }
    }

    // What only the album can see.
    let target = album_songs_target(&mut d, &songs, &sessions, album_target.map(|t| t.0));
    for (i, s) in sessions.iter().enumerate() {
        let Some(s) = s else { continue };
        for (j, other) in sessions[..i].iter().enumerate() {
            let Some(other) = other else { continue };
            let theirs: Vec<&Path> = other
                .outputs
                .iter()
                .map(|o| o.path.as_path())
                .chain(other.report.as_deref())
                .collect();
            let clash = s
                .outputs
                .iter()
                .map(|o| o.path.as_path())
                .chain(s.report.as_deref())
                .find(|p| theirs.iter().any(|q| same_file(p, q)));
            if let Some(p) = clash {
                d.bad_value_help(
                    &songs[i].session_span,
                    &format!("{}.session", songs[i].path),
                    format!("writes {}, which song[{j}] writes too", p.display()),
                    "give every song's [[output]] its own path",
                );
            }
        }
    }

    if !d.is_empty() || !inner.is_empty() {
        let mut all = d.into_sorted();
        all.extend(inner);
        return Err(all);
    }
    let title = shared.album.clone();
    let report = match report {
        Some(r) => normalize(&std::env::current_dir().unwrap_or_default(), r),
        // Beside the first song's first output, like a render's report.
        None => {
            let stem = abs_file
                .file_stem()
                .map_or("album".into(), |s| s.to_string_lossy().into_owned());
            let first = sessions
                .first()
                .and_then(|s| s.as_ref())
                .and_then(|s| s.outputs.first())
                .and_then(|o| o.path.parent())
                .unwrap_or(&dir);
            first.join(format!("{stem}.report.json"))
        }
    };
    let album = Album {
        file: abs_file,
        title,
        policy,
        target: target.expect("validated"),
        songs: songs
            .into_iter()
            .map(|s| Song {
                session: s.abs.expect("validated"),
                session_display: s.display,
                settings: s.settings,
            })
            .collect(),
        report,
    };
    Ok((
        album,
        sessions
            .into_iter()
            .map(|s| s.expect("validated"))
            .collect(),
    ))
}

/// A four-digit `year`.
fn year(d: &mut Diags<'_>, t: &Tbl<'_, '_>) -> Option<i32> {
    t.int_of(d, &keys::metadata::YEAR).map(|y| y as i32)
}

/// The target every song is mastered to: the album's, or else the one every session sets
/// (all alike). Without one, each song missing it is an error located at its `session`.
fn album_songs_target(
    d: &mut Diags<'_>,
    songs: &[RawSong],
    sessions: &[Option<Session>],
    album: Option<Target>,
) -> Option<Target> {
    if album.is_some() {
        return album;
    }
    let mut first: Option<(Target, usize)> = None;
    for (i, (song, s)) in songs.iter().zip(sessions).enumerate() {
        let Some(s) = s else { continue };
        let path = format!("{}.session", song.path);
        match (&s.master.target, &first) {
            (None, _) => d.bad_value_help(
                &song.session_span,
                &path,
                "this session has no [master].target, and the album sets none",
                "set target = { lufs = -14.0, ceiling_dbtp = -1.0 } under [album]",
            ),
            (Some(t), None) => first = Some((t.clone(), i)),
            (Some(t), Some((f, j))) if t.lufs != f.lufs || t.ceiling_dbtp != f.ceiling_dbtp => d
                .bad_value_help(
                    &song.session_span,
                    &path,
                    format!(
                        "its target is {} LUFS at {} dBTP, song[{j}]'s is {} LUFS at {} dBTP",
                        fmt_num(t.lufs),
                        fmt_num(t.ceiling_dbtp),
                        fmt_num(f.lufs),
                        fmt_num(f.ceiling_dbtp)
                    ),
                    "an album has one target: set it under [album] (it replaces the sessions')",
                ),
            _ => {}
        }
    }
    first.map(|f| f.0)
}
