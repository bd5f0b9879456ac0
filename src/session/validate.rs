//! Session validation: the parsed TOML tree in, a resolved [`Session`] or every problem out.
//!
//! Order matters in one place only: stems are probed before ranges are checked, because the
//! session rate (and so the Nyquist limit of every frequency) defaults to the rate most stems
//! share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use toml::Spanned;
use toml::de::DeTable;

use crate::io::decode::{self, StemInfo};

use super::diag::{Diagnostic, Diags, Source, Span, closest};
use super::fx::SidechainRef;
use super::keys;
use super::master::master;
use super::metadata::metadata;
use super::model::{Session, Tail};
use super::nodes::{bus, bus_cycles, sidechain_cycles, track};
use super::outputs::{outputs, writes};
use super::paths::normalize;
use super::seed::dither_seed;
use super::walk::{Str, Tbl, as_table, fmt_num};

/// What a load must do beyond parsing.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Decode every stem completely (what `check` does) instead of reading headers only.
    pub full_scan: bool,
    /// `-o PATH`: replaces the first output's path (relative to the working directory).
    pub output_override: Option<PathBuf>,
    /// `--report PATH`: where the report goes instead of beside the first output.
    pub report_override: Option<PathBuf>,
    /// `--plot DIR`: the folder the plots go to.
    pub plot_dir: Option<PathBuf>,
    /// Advanced once per stem probed or decoded.
    pub progress: Option<indicatif::ProgressBar>,
}

pub(super) struct Validator<'a> {
    pub d: Diags<'a>,
    pub(super) dir: PathBuf,
    pub(super) rate: u32,
    pub tempo_bpm: Option<f64>,
    /// Beats in a bar, for `"bar:beat"` envelope times.
    pub(super) beats_per_bar: u32,
    /// Envelopes of the processor being read (taken by `fx_chain`).
    pub(super) automation: Vec<crate::dsp::envelope::Automation>,
    pub track_names: Vec<String>,
    pub(super) bus_names: Vec<String>,
    /// Every file the render reads, for the output-equals-input check.
    pub(super) inputs: Vec<PathBuf>,
    pub(super) probes: HashMap<PathBuf, Result<StemInfo, String>>,
    pub(super) full_scan: bool,
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

    pub(super) fn stem_info(&self, abs: &Path) -> Option<StemInfo> {
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

/// Parse TOML `text`, each syntax error a diagnostic in `d`; `None` when there was any.
pub(super) fn parse_toml<'i>(d: &mut Diags<'_>, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(root);
    }
    for e in errors {
        let msg = e.message().trim().to_string();
        d.push(
            e.span().as_ref(),
            "",
            format!("TOML syntax error: {msg}"),
            None,
        );
    }
    None
}

/// `file` made absolute against the working folder, and the folder its relative paths are
/// read from.
pub(super) fn locate(file: &Path) -> (PathBuf, PathBuf) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs_file = normalize(&cwd, file);
    let dir = abs_file.parent().map_or(cwd, Path::to_path_buf);
    (abs_file, dir)
}

/// Validate session text. `file` is the session path as given (used in messages); its parent
/// is the base for relative paths.
pub fn validate(file: &Path, text: &str, opts: &LoadOptions) -> Result<Session, Vec<Diagnostic>> {
    let mut d = Diags::new(Source::new(file, text));
    let Some(root) = parse_toml(&mut d, text) else {
        return Err(d.into_sorted());
    };
    let (abs_file, dir) = locate(file);
    let mut v = Validator {
        d,
        dir,
        rate: 48000,
        tempo_bpm: None,
        beats_per_bar: 4,
        automation: Vec::new(),
        track_names: Vec::new(),
        bus_names: Vec::new(),
        inputs: vec![abs_file.clone()],
        probes: HashMap::new(),
        full_scan: opts.full_scan,
    };
    let root = Tbl::new(root.get_ref(), root.span(), String::new());
    root.check_section(&mut v.d, &keys::root::SECTION, &[]);

    let track_tbls = array_of_tables(&mut v.d, &root, keys::root::TRACK.name);
    let bus_tbls = array_of_tables(&mut v.d, &root, keys::root::BUS.name);
    if track_tbls.is_empty() {
        match root.get(keys::root::TRACK.name) {
            None => v.d.push(
                Some(&(0..0)),
                "track",
                ": the session has no tracks".into(),
                Some("add at least one [[track]] with name and file".into()),
            ),
            Some(t) if matches!(t.get_ref(), toml::de::DeValue::Array(a) if a.is_empty()) => {
                v.d.bad_value_help(
                    &t.span(),
                    "track",
                    "an empty list: the session has no tracks",
                    "add at least one [[track]] with name and file",
                );
            }
            // Anything else was reported as the wrong type.
            Some(_) => {}
        }
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
    // A track's `file` and the `file` of each of its `regions`.
    let file_of = |t: &toml::de::DeTable<'_>| match t.get("file").map(|f| f.get_ref()) {
        Some(toml::de::DeValue::String(s)) => Some(normalize(&v.dir, Path::new(s.as_ref()))),
        _ => None,
    };
    let stem_paths: Vec<PathBuf> = track_tbls
        .iter()
        .flat_map(|t| {
            let regions = match t.get("regions").map(|r| r.get_ref()) {
                Some(toml::de::DeValue::Array(items)) => items
                    .iter()
                    .filter_map(|r| match r.get_ref() {
                        toml::de::DeValue::Table(r) => file_of(r),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            file_of(t.t).into_iter().chain(regions)
        })
        .collect();
    let full = opts.full_scan;
    // Each file once, however many regions play it.
    let mut unique: Vec<&PathBuf> = Vec::new();
    for p in &stem_paths {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    if let Some(pb) = &opts.progress {
        pb.set_length(unique.len() as u64);
    }
    let probed: Vec<(PathBuf, Result<StemInfo, String>)> = unique
        .par_iter()
        .map(|p| {
            let r = ((*p).clone(), probe_file(p, full));
            if let Some(pb) = &opts.progress {
                pb.inc(1);
            }
            r
        })
        .collect();
    v.probes.extend(probed);

    let session_tbl = root.table(&mut v.d, keys::root::SESSION.name);
    let mut name = abs_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "session".into());
    let mut tail = Tail::Auto;
    let explicit_rate = session_tbl.as_ref().and_then(|s| {
        s.check_section(&mut v.d, &keys::session::SECTION, &[]);
        if let Some(n) = s.str(&mut v.d, keys::session::NAME.name) {
            name = n.v;
        }
        v.tempo_bpm = s.opt_num_of(&mut v.d, &keys::session::TEMPO_BPM);
        if let Some(b) = s.int_of(&mut v.d, &keys::session::BEATS_PER_BAR) {
            v.beats_per_bar = b as u32;
        }
        tail = read_tail(&mut v.d, s);
        s.int_of(&mut v.d, &keys::session::SAMPLE_RATE)
            .map(|r| r as u32)
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
        .table(&mut v.d, keys::root::MASTER.name)
        .map(|m| master(&mut v, &m))
        .unwrap_or_default();
    let outputs = outputs(&mut v, &root, &abs_file, opts);
    let (outputs, report, plots) = writes(&mut v, outputs, opts);
    let tags = root
        .table(&mut v.d, keys::root::METADATA.name)
        .map(|m| metadata(&mut v, &m))
        .unwrap_or_default();

    if !v.d.is_empty() {
        return Err(v.d.into_sorted());
    }
    let warnings = v.d.take_warnings();
    // Solo: any solo mutes every track that is not soloed.
    if tracks.iter().any(|t| t.solo) {
        for tr in &mut tracks {
            tr.muted |= !tr.solo;
        }
    }
    let mut session = Session {
        file: abs_file,
        name,
        sample_rate: v.rate,
        tail,
        tempo_bpm: v.tempo_bpm,
        tracks,
        buses,
        master,
        outputs,
        report,
        plots,
        tags,
        seed: 0,
        warnings,
        seams: Default::default(),
        album_gain: false,
        inputs: Vec::new(),
    };
    for p in v.inputs {
        if !session.inputs.contains(&p) {
            session.inputs.push(p);
        }
    }
    session.seed = dither_seed(&session);
    Ok(session)
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
    let k = &keys::session::TAIL;
    let Some(val) = s.get(k.name) else {
        return Tail::Auto;
    };
    if let toml::de::DeValue::String(x) = val.get_ref() {
        if x == "auto" {
            return Tail::Auto;
        }
        d.bad_value(
            &val.span(),
            &s.key_path(k.name),
            "must be \"auto\" or a number of seconds",
        );
        return Tail::Auto;
    }
    match s.opt_num_of(d, k) {
        Some(x) => Tail::Seconds(x),
        None => Tail::Auto,
    }
}

/// `[[name]]` tables; a single `[name]` table is a common slip, so say so.
pub(super) fn array_of_tables<'a, 'i>(
    d: &mut Diags<'_>,
    root: &Tbl<'a, 'i>,
    key: &str,
) -> Vec<Tbl<'a, 'i>> {
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

pub(super) fn labelled<'a, 'i>(t: &Tbl<'a, 'i>, name: &str) -> Tbl<'a, 'i> {
    let mut t = t.clone();
    if !name.is_empty() {
        t.path = format!("{} \"{}\"", t.path, name);
    }
    t
}
