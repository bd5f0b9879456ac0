//! Session validation: the parsed TOML tree in, a resolved [`Session`] or every problem out.
//!
//! Order matters in one place only: stems are probed before ranges are checked, because the
//! session rate (and so the Nyquist limit of every frequency) defaults to the rate most stems
//! share.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use toml::de::DeTable;

use crate::io::decode::{self, StemInfo};
use crate::io::tags::Tags;
use crate::io::wav::{Dither, Encoding};

use super::diag::{Diagnostic, Diags, Source, Span, closest};
use super::fx::{Owner, SidechainRef};
use super::model::*;
use super::walk::{Str, Tbl, as_table, fmt_num};

/// What a load must do beyond parsing.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Decode every stem completely (what `check` does) instead of reading headers only.
    pub full_scan: bool,
    /// `-o PATH`: replaces the first output's path (relative to the working directory).
    pub output_override: Option<PathBuf>,
    /// Advanced once per stem probed or decoded.
    pub progress: Option<indicatif::ProgressBar>,
}

pub(super) struct Validator<'a> {
    pub d: Diags<'a>,
    dir: PathBuf,
    rate: u32,
    pub tempo_bpm: Option<f64>,
    pub track_names: Vec<String>,
    bus_names: Vec<String>,
    /// Every file the render reads, for the output-equals-input check.
    inputs: Vec<PathBuf>,
    probes: HashMap<PathBuf, Result<StemInfo, String>>,
    full_scan: bool,
}

/// A 64-bit FNV-1a hash: the dither seed of a session is the hash of its text.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Make a path absolute and resolve `.` and `..` without touching the file system.
pub fn normalize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether two paths name the same file (by identity when both exist, else by normalized path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => {
            let pa = a
                .parent()
                .and_then(|d| d.canonicalize().ok())
                .map(|d| d.join(a.file_name().unwrap_or_default()));
            let pb = b
                .parent()
                .and_then(|d| d.canonicalize().ok())
                .map(|d| d.join(b.file_name().unwrap_or_default()));
            match (pa, pb) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            }
        }
    }
}

fn khz(rate: u32) -> String {
    format!("{} kHz", fmt_num(f64::from(rate) / 1000.0))
}

impl<'a> Validator<'a> {
    pub fn nyquist(&self) -> f64 {
        f64::from(self.rate) / 2.0
    }

    pub fn rate_text(&self) -> String {
        khz(self.rate)
    }

    pub fn track_index(&self, name: &str) -> Option<usize> {
        self.track_names.iter().position(|n| n == name)
    }

    /// "did you mean ...? known tracks: a, b" for an unknown name.
    pub fn name_hint(&self, name: &str, known: &[String], what: &str) -> String {
        let list = if known.is_empty() {
            format!("there are no {what}s")
        } else {
            format!(
                "known {what}s: {}",
                known
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match closest(name, known.iter().map(String::as_str)) {
            Some(c) => format!("did you mean \"{c}\"? {list}"),
            None => list,
        }
    }

    /// Resolve an input file relative to the session and check that it decodes.
    pub fn input_file(&mut self, s: &Str, path: &str, check_audio: bool) -> Option<PathBuf> {
        if s.v.trim().is_empty() {
            self.d.bad_value(&s.span, path, "must name a file");
            return None;
        }
        let abs = normalize(&self.dir, Path::new(&s.v));
        self.inputs.push(abs.clone());
        if check_audio {
            let probe = self
                .probes
                .entry(abs.clone())
                .or_insert_with(|| probe_file(&abs, self.full_scan))
                .clone();
            if let Err(e) = probe {
                self.d
                    .bad_value_help(&s.span, path, e, format!("resolved to {}", abs.display()));
                return None;
            }
        }
        Some(abs)
    }

    fn stem_info(&self, abs: &Path) -> Option<StemInfo> {
        self.probes.get(abs).and_then(|r| r.as_ref().ok()).cloned()
    }
}

fn probe_file(path: &Path, full: bool) -> Result<StemInfo, String> {
    let r = if full {
        decode::scan(path).map(|s| s.info)
    } else {
        decode::probe(path)
    };
    r.map_err(|e| e.to_string())
}

/// Validate session text. `file` is the session path as given (used in messages); its parent
/// is the base for relative paths.
pub fn validate(file: &Path, text: &str, opts: &LoadOptions) -> Result<Session, Vec<Diagnostic>> {
    let src = Source::new(file, text);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let mut d = Diags::new(src);
        for e in errors {
            let span = e.span();
            let msg = e.message().trim().to_string();
            d.push(span.as_ref(), "", format!("TOML syntax error: {msg}"), None);
        }
        return Err(d.into_sorted());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs_file = normalize(&cwd, file);
    let dir = abs_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(cwd.clone());
    let mut v = Validator {
        d: Diags::new(src),
        dir,
        rate: 48000,
        tempo_bpm: None,
        track_names: Vec::new(),
        bus_names: Vec::new(),
        inputs: vec![abs_file.clone()],
        probes: HashMap::new(),
        full_scan: opts.full_scan,
    };
    let root = Tbl::new(root.get_ref(), root.span(), String::new());
    root.check_keys(
        &mut v.d,
        &["session", "track", "bus", "master", "output", "metadata"],
    );

    let track_tbls = array_of_tables(&mut v.d, &root, "track");
    let bus_tbls = array_of_tables(&mut v.d, &root, "bus");
    if track_tbls.is_empty() && !root.has("track") {
        v.d.push(
            Some(&(0..0)),
            "track",
            ": the session has no tracks".into(),
            Some("add at least one [[track]] with name and file".into()),
        );
    }
    // Names first: sends, outputs and sidechains refer to them.
    v.track_names = names(&mut v.d, &track_tbls, "track");
    v.bus_names = names(&mut v.d, &bus_tbls, "bus");
    for (i, t) in bus_tbls.iter().enumerate() {
        if v.bus_names[i] == "master" {
            v.d.bad_value_help(
                &t.span_of("name"),
                &t.key_path("name"),
                "\"master\" is the master bus's name",
                "pick another bus name",
            );
        }
    }

    // Probe every stem (in parallel: it is file I/O and, for `check`, full decodes).
    let stem_paths: Vec<PathBuf> = track_tbls
        .iter()
        .filter_map(|t| match t.get("file").map(|f| f.get_ref()) {
            Some(toml::de::DeValue::String(s)) => Some(normalize(&v.dir, Path::new(s.as_ref()))),
            _ => None,
        })
        .collect();
    let full = opts.full_scan;
    if let Some(pb) = &opts.progress {
        pb.set_length(stem_paths.len() as u64);
    }
    let probed: Vec<(PathBuf, Result<StemInfo, String>)> = stem_paths
        .par_iter()
        .map(|p| {
            let r = (p.clone(), probe_file(p, full));
            if let Some(pb) = &opts.progress {
                pb.inc(1);
            }
            r
        })
        .collect();
    v.probes.extend(probed);

    let session_tbl = root.table(&mut v.d, "session");
    let mut name = abs_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "session".into());
    let mut tail = Tail::Auto;
    let explicit_rate = session_tbl.as_ref().and_then(|s| {
        s.check_keys(&mut v.d, &["name", "sample_rate", "tail", "tempo_bpm"]);
        if let Some(n) = s.str(&mut v.d, "name") {
            name = n.v;
        }
        v.tempo_bpm = s.opt_num_in(&mut v.d, "tempo_bpm", 20.0, 400.0, "BPM");
        tail = read_tail(&mut v.d, s);
        let (r, span) = s.int(&mut v.d, "sample_rate")?;
        if (i64::from(decode::MIN_RATE)..=i64::from(decode::MAX_RATE)).contains(&r) {
            Some(r as u32)
        } else {
            v.d.bad_value(
                &span,
                &s.key_path("sample_rate"),
                "must be between 8000 and 192000 Hz",
            );
            None
        }
    });
    v.rate = explicit_rate.unwrap_or_else(|| most_common_rate(&v.probes, &stem_paths));

    let mut sidechains: Vec<(usize, SidechainRef)> = Vec::new();
    let mut tracks = Vec::new();
    for (i, t) in track_tbls.iter().enumerate() {
        let mut sc = Vec::new();
        if let Some(tr) = track(&mut v, t, i, &mut sc) {
            tracks.push(tr);
        }
        sidechains.extend(sc.into_iter().map(|s| (i, s)));
    }
    let mut buses = Vec::new();
    let mut bus_edges: Vec<(usize, usize, Span, String)> = Vec::new();
    for (i, t) in bus_tbls.iter().enumerate() {
        let mut sc = Vec::new();
        if let Some(b) = bus(&mut v, t, &mut sc, &mut bus_edges, i) {
            buses.push(b);
        }
    }
    bus_cycles(&mut v, &bus_edges);
    sidechain_cycles(&mut v, &sidechains);

    let master = root
        .table(&mut v.d, "master")
        .map(|m| master(&mut v, &m))
        .unwrap_or_default();
    let outputs = outputs(&mut v, &root, &abs_file, opts);
    let tags = root
        .table(&mut v.d, "metadata")
        .map(|m| metadata(&mut v, &m))
        .unwrap_or_default();

    if !v.d.is_empty() {
        return Err(v.d.into_sorted());
    }
    // Solo: any solo mutes every track that is not soloed.
    let any_solo = track_tbls.iter().any(|t| {
        matches!(
            t.get("solo").map(|x| x.get_ref()),
            Some(toml::de::DeValue::Boolean(true))
        )
    });
    if any_solo {
        for (tr, t) in tracks.iter_mut().zip(&track_tbls) {
            let solo = matches!(
                t.get("solo").map(|x| x.get_ref()),
                Some(toml::de::DeValue::Boolean(true))
            );
            tr.muted |= !solo;
        }
    }
    Ok(Session {
        file: abs_file,
        name,
        sample_rate: v.rate,
        tail,
        tempo_bpm: v.tempo_bpm,
        tracks,
        buses,
        master,
        outputs,
        tags,
        seed: fnv1a(text.as_bytes()),
    })
}

fn most_common_rate(probes: &HashMap<PathBuf, Result<StemInfo, String>>, stems: &[PathBuf]) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for p in stems {
        if let Some(Ok(info)) = probes.get(p) {
            *counts.entry(info.sample_rate).or_default() += 1;
        }
    }
    // Most stems first; on a tie the higher rate, so nothing is resampled down needlessly.
    counts
        .into_iter()
        .max_by_key(|&(rate, n)| (n, rate))
        .map_or(48000, |(rate, _)| rate)
}

fn read_tail(d: &mut Diags<'_>, s: &Tbl<'_, '_>) -> Tail {
    let Some(val) = s.get("tail") else {
        return Tail::Auto;
    };
    if let toml::de::DeValue::String(x) = val.get_ref() {
        if x == "auto" {
            return Tail::Auto;
        }
        d.bad_value(
            &val.span(),
            &s.key_path("tail"),
            "must be \"auto\" or a number of seconds",
        );
        return Tail::Auto;
    }
    match s.opt_num_in(d, "tail", 0.0, 30.0, "s") {
        Some(x) => Tail::Seconds(x),
        None => Tail::Auto,
    }
}

/// `[[name]]` tables; a single `[name]` table is a common slip, so say so.
fn array_of_tables<'a, 'i>(d: &mut Diags<'_>, root: &Tbl<'a, 'i>, key: &str) -> Vec<Tbl<'a, 'i>> {
    let Some(val) = root.get(key) else {
        return Vec::new();
    };
    match val.get_ref() {
        toml::de::DeValue::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| as_table(d, it, format!("{key}[{i}]")))
            .collect(),
        toml::de::DeValue::Table(_) => {
            d.push(
                Some(&val.span()),
                key,
                format!(": [{key}] is a single table"),
                Some(format!(
                    "write [[{key}]] (double brackets): a session holds a list of them"
                )),
            );
            Vec::new()
        }
        _ => {
            d.bad_value(&val.span(), key, format!("expected [[{key}]] tables"));
            Vec::new()
        }
    }
}

/// Read `name` of each table, check presence and uniqueness, and rename the tables' paths to
/// `track[2] "vocals"`.
fn names(d: &mut Diags<'_>, tbls: &[Tbl<'_, '_>], what: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tbls {
        let name = match t.str(d, "name") {
            Some(s) if s.v.trim().is_empty() => {
                d.bad_value(&s.span, &t.key_path("name"), "must not be empty");
                String::new()
            }
            Some(s) => {
                if let Some(first) = out.iter().position(|n| *n == s.v) {
                    d.bad_value_help(
                        &s.span,
                        &t.key_path("name"),
                        format!("duplicate {what} name (also {what}[{first}])"),
                        format!("every {what} needs its own name"),
                    );
                }
                s.v
            }
            None => {
                t.require(d, "name", &format!("every {what} needs a name"));
                String::new()
            }
        };
        out.push(name);
    }
    out
}

fn labelled<'a, 'i>(t: &Tbl<'a, 'i>, name: &str) -> Tbl<'a, 'i> {
    let mut t = t.clone();
    if !name.is_empty() {
        t.path = format!("{} \"{}\"", t.path, name);
    }
    t
}

fn dest(v: &mut Validator<'_>, t: &Tbl<'_, '_>, key: &str) -> Dest {
    let Some(s) = t.str(&mut v.d, key) else {
        return Dest::Master;
    };
    if s.v == "master" {
        return Dest::Master;
    }
    match v.bus_names.iter().position(|b| *b == s.v) {
        Some(i) => Dest::Bus(i),
        None => {
            let mut known = vec!["master".to_string()];
            known.extend(v.bus_names.iter().cloned());
            let help = v.name_hint(&s.v, &known, "destination");
            v.d.bad_value_help(&s.span, &t.key_path(key), "no bus has this name", help);
            Dest::Master
        }
    }
}

fn sends(v: &mut Validator<'_>, t: &Tbl<'_, '_>) -> Vec<(Send, Span, String)> {
    let Some(items) = t.array(&mut v.d, "sends") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", t.key_path("sends"));
        let Some(st) = as_table(&mut v.d, item, path) else {
            continue;
        };
        st.check_keys(&mut v.d, &["bus", "level_db", "pre_fader"]);
        if !st.require(&mut v.d, "bus", "the bus this send feeds") {
            continue;
        }
        let level_db = st.num_in(&mut v.d, "level_db", 0.0, -96.0, 12.0, "dB");
        let pre_fader = st.bool_or(&mut v.d, "pre_fader", false);
        let Some(s) = st.str(&mut v.d, "bus") else {
            continue;
        };
        match v.bus_names.iter().position(|b| *b == s.v) {
            Some(bus) => out.push((
                Send {
                    bus,
                    level_db,
                    pre_fader,
                },
                s.span.clone(),
                st.key_path("bus"),
            )),
            None => {
                let help = v.name_hint(&s.v, &v.bus_names.clone(), "bus");
                let help = if s.v == "master" {
                    "the master is fed by `output`; sends go to buses".to_string()
                } else {
                    help
                };
                v.d.bad_value_help(&s.span, &st.key_path("bus"), "no bus has this name", help);
            }
        }
    }
    out
}

fn track(
    v: &mut Validator<'_>,
    t: &Tbl<'_, '_>,
    i: usize,
    sc: &mut Vec<SidechainRef>,
) -> Option<Track> {
    let t = &labelled(t, &v.track_names[i].clone());
    t.check_keys(
        &mut v.d,
        &[
            "name",
            "file",
            "gain_db",
            "pan",
            "width",
            "offset_s",
            "polarity_invert",
            "mute",
            "solo",
            "output",
            "sends",
            "fx",
        ],
    );
    let file = if t.require(
        &mut v.d,
        "file",
        "the stem to play, relative to the session file",
    ) {
        t.str(&mut v.d, "file").and_then(|s| {
            v.input_file(&s, &t.key_path("file"), true)
                .map(|p| (p, s.v))
        })
    } else {
        None
    };
    let gain_db = t.num_in(&mut v.d, "gain_db", 0.0, -96.0, 24.0, "dB");
    let pan = t.num_in(&mut v.d, "pan", 0.0, -1.0, 1.0, "");
    let width = t.num_in(&mut v.d, "width", 1.0, 0.0, 2.0, "");
    let offset_s = t.num_in(&mut v.d, "offset_s", 0.0, 0.0, 3600.0, "s");
    let polarity_invert = t.bool_or(&mut v.d, "polarity_invert", false);
    let mute = t.bool_or(&mut v.d, "mute", false);
    t.bool_or(&mut v.d, "solo", false);
    let output = dest(v, t, "output");
    let sends = sends(v, t).into_iter().map(|(s, _, _)| s).collect();
    let fx = v.fx_chain(t, Owner::Track(i), sc);
    let (file, file_display) = file?;
    let stem = v.stem_info(&file)?;
    if stem.channels == 1 && t.has("width") && width != 1.0 {
        v.d.bad_value_help(
            &t.span_of("width"),
            &t.key_path("width"),
            "width needs a stereo stem, and this stem is mono",
            "place a mono stem with pan, or remove width",
        );
    }
    Some(Track {
        name: v.track_names[i].clone(),
        file,
        file_display,
        stem,
        gain_db,
        pan,
        width,
        offset_s,
        polarity_invert,
        muted: mute,
        output,
        sends,
        fx,
    })
}

fn bus(
    v: &mut Validator<'_>,
    t: &Tbl<'_, '_>,
    sc: &mut Vec<SidechainRef>,
    edges: &mut Vec<(usize, usize, Span, String)>,
    i: usize,
) -> Option<Bus> {
    let t = &labelled(t, &v.bus_names[i].clone());
    t.check_keys(
        &mut v.d,
        &[
            "name", "gain_db", "pan", "width", "mute", "output", "sends", "fx",
        ],
    );
    let gain_db = t.num_in(&mut v.d, "gain_db", 0.0, -96.0, 24.0, "dB");
    let pan = t.num_in(&mut v.d, "pan", 0.0, -1.0, 1.0, "");
    let width = t.num_in(&mut v.d, "width", 1.0, 0.0, 2.0, "");
    let muted = t.bool_or(&mut v.d, "mute", false);
    let output = dest(v, t, "output");
    if let Dest::Bus(b) = output {
        edges.push((i, b, t.span_of("output"), t.key_path("output")));
    }
    let mut out_sends = Vec::new();
    for (s, span, path) in sends(v, t) {
        edges.push((i, s.bus, span, path));
        out_sends.push(s);
    }
    let fx = v.fx_chain(t, Owner::Bus, sc);
    Some(Bus {
        name: v.bus_names[i].clone(),
        gain_db,
        pan,
        width,
        muted,
        output,
        sends: out_sends,
        fx,
    })
}

/// Report every cycle in the bus graph (outputs and sends), once, at the edge that closes it.
fn bus_cycles(v: &mut Validator<'_>, edges: &[(usize, usize, Span, String)]) {
    let n = v.bus_names.len();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; n];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        b: usize,
        edges: &[(usize, usize, Span, String)],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        found: &mut Vec<(Vec<usize>, usize)>,
    ) {
        state[b] = 1;
        stack.push(b);
        for (ei, e) in edges.iter().enumerate().filter(|(_, e)| e.0 == b) {
            match state[e.1] {
                0 => visit(e.1, edges, state, stack, found),
                1 => {
                    let start = stack.iter().position(|&x| x == e.1).unwrap_or(0);
                    found.push((stack[start..].to_vec(), ei));
                }
                _ => {}
            }
        }
        stack.pop();
        state[b] = 2;
    }
    let mut found = Vec::new();
    for b in 0..n {
        if state[b] == 0 {
            visit(b, edges, &mut state, &mut stack, &mut found);
        }
    }
    for (cycle, ei) in found {
        let mut names: Vec<String> = cycle
            .iter()
            .map(|&b| format!("bus \"{}\"", v.bus_names[b]))
            .collect();
        names.push(format!("bus \"{}\"", v.bus_names[cycle[0]]));
        let (_, _, span, path) = &edges[ei];
        v.d.bad_value_help(
            span,
            path,
            format!("makes a routing loop: {}", names.join(" -> ")),
            "a bus cannot feed itself, directly or through other buses; route one of them elsewhere",
        );
    }
}

/// A sidechain key must be rendered before the track it keys: no cycles among tracks.
fn sidechain_cycles(v: &mut Validator<'_>, refs: &[(usize, SidechainRef)]) {
    let n = v.track_names.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (keyed, r) in refs {
        deps[*keyed].push(r.key_track);
    }
    for (keyed, r) in refs {
        // Does the key track (transitively) depend on the keyed track?
        let mut seen = vec![false; n];
        let mut todo = vec![r.key_track];
        let mut cyclic = false;
        while let Some(t) = todo.pop() {
            if t == *keyed {
                cyclic = true;
                break;
            }
            if !std::mem::replace(&mut seen[t], true) {
                todo.extend(&deps[t]);
            }
        }
        if cyclic {
            v.d.bad_value_help(
                &r.span,
                &r.path,
                format!(
                    "sidechain loop: track \"{}\" is keyed, directly or indirectly, by track \"{}\"",
                    v.track_names[r.key_track], v.track_names[*keyed]
                ),
                "two tracks cannot key each other",
            );
        }
    }
}

fn master(v: &mut Validator<'_>, m: &Tbl<'_, '_>) -> Master {
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
    let target = m.table(&mut v.d, "target").and_then(|t| target(v, &t));
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

fn target(v: &mut Validator<'_>, t: &Tbl<'_, '_>) -> Option<Target> {
    t.check_keys(
        &mut v.d,
        &["lufs", "ceiling_dbtp", "tolerance_lu", "preset"],
    );
    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    let preset = t.choice(&mut v.d, "preset", &names);
    let base = preset
        .as_ref()
        .and_then(|p| PRESETS.iter().find(|x| x.0 == p.v));
    if base.is_none() && !t.has("preset") {
        t.require(
            &mut v.d,
            "lufs",
            "the integrated loudness target, e.g. lufs = -14.0, or preset = \"spotify\"",
        );
    }
    let lufs = t.num_in(
        &mut v.d,
        "lufs",
        base.map_or(-14.0, |b| b.1),
        -40.0,
        -5.0,
        "LUFS",
    );
    let ceiling_dbtp = t.num_in(
        &mut v.d,
        "ceiling_dbtp",
        base.map_or(-1.0, |b| b.2),
        -12.0,
        0.0,
        "dBTP",
    );
    let tolerance_lu = t.num_in(&mut v.d, "tolerance_lu", 0.5, 0.1, 3.0, "LU");
    Some(Target {
        lufs,
        ceiling_dbtp,
        tolerance_lu,
        preset: preset.map(|p| p.v),
    })
}

fn outputs(
    v: &mut Validator<'_>,
    root: &Tbl<'_, '_>,
    session_file: &Path,
    opts: &LoadOptions,
) -> Vec<Output> {
    let tbls = array_of_tables(&mut v.d, root, "output");
    let mut outs: Vec<(Output, Span, String)> = Vec::new();
    for t in &tbls {
        t.check_keys(&mut v.d, &["path", "sample_rate", "bit_depth", "dither"]);
        let sample_rate = match t.int(&mut v.d, "sample_rate") {
            Some((r, _)) if (8000..=192_000).contains(&r) => r as u32,
            Some((_, span)) => {
                v.d.bad_value(
                    &span,
                    &t.key_path("sample_rate"),
                    "must be between 8000 and 192000 Hz",
                );
                44100
            }
            None => 44100,
        };
        let encoding = match t.int(&mut v.d, "bit_depth") {
            None | Some((16, _)) => Encoding::Pcm16,
            Some((24, _)) => Encoding::Pcm24,
            Some((32, _)) => Encoding::Float32,
            Some((_, span)) => {
                v.d.bad_value(
                    &span,
                    &t.key_path("bit_depth"),
                    "must be 16, 24 or 32 (float)",
                );
                Encoding::Pcm16
            }
        };
        let dither = match t
            .choice(&mut v.d, "dither", &["none", "tpdf", "shaped"])
            .map(|s| s.v)
            .as_deref()
        {
            Some("none") => Dither::None,
            Some("shaped") => Dither::Shaped,
            _ => Dither::Tpdf,
        };
        if !t.require(
            &mut v.d,
            "path",
            "where to write the file, e.g. path = \"out/song.wav\"",
        ) {
            continue;
        }
        let Some(p) = t.str(&mut v.d, "path") else {
            continue;
        };
        let path = normalize(&v.dir, Path::new(&p.v));
        outs.push((
            Output {
                path,
                sample_rate,
                encoding,
                dither,
            },
            p.span,
            t.key_path("path"),
        ));
    }
    if outs.is_empty() && !root.has("output") {
        let stem = session_file.file_stem().unwrap_or_default();
        let mut path = session_file.with_file_name(stem);
        path.set_extension("wav");
        outs.push((
            Output {
                path,
                sample_rate: 44100,
                encoding: Encoding::Pcm16,
                dither: Dither::Tpdf,
            },
            0..0,
            "output".into(),
        ));
    }
    if let Some(o) = &opts.output_override {
        let cwd = std::env::current_dir().unwrap_or_default();
        if let Some(first) = outs.first_mut() {
            first.0.path = normalize(&cwd, o);
            first.2 = format!("-o {}", o.display());
        }
    }
    for i in 0..outs.len() {
        let (o, span, path) = &outs[i];
        let has_span = !path.starts_with("-o") && path != "output";
        let problem = |msg: String| (msg, span.clone(), path.clone(), has_span);
        let mut problems = Vec::new();
        let ext_ok = o
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if !ext_ok {
            problems.push(problem(format!(
                "{}: mixdown writes WAV files; the path must end in .wav",
                o.path.display()
            )));
        }
        if v.inputs.iter().any(|inp| same_file(inp, &o.path)) {
            problems.push(problem(
                "names an input of this session; a render never overwrites its inputs".to_string(),
            ));
        }
        if let Some(j) = (0..i).find(|&j| same_file(&outs[j].0.path, &o.path)) {
            problems.push(problem(format!(
                "{}: output[{j}] writes the same file",
                o.path.display()
            )));
        }
        for (msg, span, path, has_span) in problems {
            if has_span {
                v.d.bad_value(&span, &path, msg);
            } else {
                v.d.push(None, &path, format!(": {msg}"), None);
            }
        }
    }
    outs.into_iter().map(|(o, _, _)| o).collect()
}

fn metadata(v: &mut Validator<'_>, m: &Tbl<'_, '_>) -> Tags {
    m.check_keys(
        &mut v.d,
        &[
            "title",
            "artist",
            "album",
            "track",
            "year",
            "genre",
            "isrc",
            "upc",
            "comment",
            "copyright",
        ],
    );
    let s =
        |v: &mut Validator<'_>, k: &str| m.str(&mut v.d, k).map(|s| s.v).filter(|s| !s.is_empty());
    let mut tags = Tags {
        title: s(v, "title"),
        artist: s(v, "artist"),
        album: s(v, "album"),
        genre: s(v, "genre"),
        comment: s(v, "comment"),
        copyright: s(v, "copyright"),
        ..Tags::default()
    };
    if let Some((n, span)) = m.int(&mut v.d, "track") {
        if (1..=999).contains(&n) {
            tags.track = Some(n as u32);
        } else {
            v.d.bad_value(&span, &m.key_path("track"), "must be between 1 and 999");
        }
    }
    if let Some((y, span)) = m.int(&mut v.d, "year") {
        if (1000..=9999).contains(&y) {
            tags.year = Some(y as i32);
        } else {
            v.d.bad_value(&span, &m.key_path("year"), "must be a four-digit year");
        }
    }
    if let Some(isrc) = m.str(&mut v.d, "isrc") {
        match check_isrc(&isrc.v) {
            Ok(code) => tags.isrc = Some(code),
            Err((problem, help)) => {
                v.d.bad_value_help(&isrc.span, &m.key_path("isrc"), problem, help)
            }
        }
    }
    if let Some(upc) = m.str(&mut v.d, "upc") {
        match check_upc(&upc.v) {
            Ok(code) => tags.upc = Some(code),
            Err((problem, help)) => {
                v.d.bad_value_help(&upc.span, &m.key_path("upc"), problem, help)
            }
        }
    }
    tags
}

/// ISO 3901 ISRC: CC-XXX-YY-NNNNN (country, registrant, year, designation); hyphens optional.
/// Returns the 12-character form.
pub fn check_isrc(s: &str) -> Result<String, (String, String)> {
    let help = "an ISRC is 12 characters CC-XXX-YY-NNNNN: 2 letters, 3 letters or digits, 2-digit year, 5 digits, e.g. \"USABC2600003\"".to_string();
    let code: String = s.chars().filter(|&c| c != '-').collect();
    if code.chars().count() != 12 {
        return Err((
            format!(
                "has {} characters without hyphens, not 12",
                code.chars().count()
            ),
            help,
        ));
    }
    let c: Vec<char> = code.chars().collect();
    if c.iter().any(|c| c.is_ascii_lowercase()) {
        return Err((
            "must be written in capitals".into(),
            format!("write \"{}\"", code.to_ascii_uppercase()),
        ));
    }
    if !c[0..2].iter().all(|c| c.is_ascii_uppercase()) {
        return Err(("must start with a two-letter country code".into(), help));
    }
    if !c[2..5]
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err((
            "characters 3-5 (registrant) must be letters or digits".into(),
            help,
        ));
    }
    if !c[5..12].iter().all(char::is_ascii_digit) {
        return Err((
            "characters 6-12 (year and designation) must be digits".into(),
            help,
        ));
    }
    Ok(code)
}

/// UPC-A (12 digits) or EAN-13 (13 digits) with a correct GS1 check digit.
pub fn check_upc(s: &str) -> Result<String, (String, String)> {
    let help = "a UPC-A has 12 digits and an EAN-13 13; the last is a GS1 check digit".to_string();
    if !s.chars().all(|c| c.is_ascii_digit()) || !(s.len() == 12 || s.len() == 13) {
        return Err((
            format!(
                "must be 12 or 13 digits (found {} characters)",
                s.chars().count()
            ),
            help,
        ));
    }
    let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    // GS1: weights 3 and 1 alternate from the rightmost body digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if check[0] != expected {
        let fixed: String = s[..s.len() - 1].to_string() + &expected.to_string();
        return Err((
            format!("check digit is {} but should be {expected}", check[0]),
            format!("if the other digits are right, the code is \"{fixed}\""),
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrc_forms() {
        assert_eq!(check_isrc("USABC2600003").unwrap(), "USABC2600003");
        assert_eq!(check_isrc("US-ABC-26-00003").unwrap(), "USABC2600003");
        assert!(check_isrc("usabc2600003").is_err());
        assert!(check_isrc("USABC260003").is_err());
        assert!(check_isrc("U1ABC2600003").is_err());
        assert!(check_isrc("USABC26A0003").is_err());
    }

    #[test]
    fn upc_and_ean_check_digits() {
        assert!(check_upc("012345678905").is_ok()); // UPC-A from GS1 examples
        assert!(check_upc("036000291452").is_ok());
        assert!(check_upc("4006381333931").is_ok()); // EAN-13
        let e = check_upc("012345678901").unwrap_err();
        assert!(e.0.contains("should be 5"), "{}", e.0);
        assert!(check_upc("01234567890").is_err());
        assert!(check_upc("01234567890a").is_err());
    }

    #[test]
    fn paths_normalize_lexically() {
        let p = normalize(Path::new("/a/b"), Path::new("../c/./d.wav"));
        assert_eq!(p, PathBuf::from("/a/c/d.wav"));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
