//! The session format as data: the JSON Schema `mixdown schema` prints accepts every example
//! session and rejects every mistake a schema can see; the validator reads exactly the keys of
//! the key table, with the table's types and ranges; the README's session reference is the
//! table's rendering.

mod common;

use std::path::{Path, PathBuf};

use mixdown::session::keys::{self, Absent, Key, Section, Ty};
use mixdown::session::{Diagnostic, LoadOptions, schema, validate};
use serde_json::Value;

use common::jsonschema::violations;
use common::{Sandbox, fixtures, mixdown};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// TOML text as the JSON value an editor checks against the schema.
fn toml_json(text: &str) -> Value {
    let v: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    serde_json::to_value(v).unwrap()
}

fn tomls_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            tomls_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn schema_prints_the_session_schema_and_keeps_report() {
    let out = mixdown().args(["schema"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, schema::json_schema());
    let out = mixdown().args(["schema", "--session"]).output().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        printed
    );
    let out = mixdown().args(["schema", "--report"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["properties"]["schema_version"]["const"], 1);
    let out = mixdown().args(["schema", "--markdown"]).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), schema::markdown());
    let out = mixdown()
        .args(["schema", "--report", "--markdown"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "one schema at a time");
}

#[test]
fn the_schema_accepts_every_example_session() {
    let schema = schema::json_schema();
    let mut files = Vec::new();
    tomls_under(&root().join("examples"), &mut files);
    files.sort();
    let mut n = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let v = toml_json(&text);
        if v.get("song").is_some() {
            continue; // an album file, not a session
        }
        assert_eq!(
            violations(&schema, &v, ""),
            Vec::<String>::new(),
            "{}",
            f.display()
        );
        n += 1;
    }
    assert!(n >= 5, "only {n} example sessions");
}

#[test]
fn the_schema_accepts_a_session_that_sets_every_key() {
    // Every fx type on a track and the master, every band kind, every section filled.
    let text = r#"
[session]
name = "all"
sample_rate = 48000
tail = 2.5
tempo_bpm = 120

[[track]]
name = "a"
file = "a.wav"
gain_db = -3
pan = 0.25
width = 1.0
offset_s = 0.5
start_s = 0.1
end_s = 0.9
fade_in_s = 0.1
fade_out_s = 0.1
fade_curve = "s_curve"
polarity_invert = true
mute = false
solo = false
output = "verb"
sends = [{ bus = "verb", level_db = -12.0, pre_fader = true }]
fx = [
  { type = "eq", phase = "linear", bands = [
      { kind = "highpass", freq_hz = 80.0, slope_db_oct = 24 },
      { kind = "lowpass", freq_hz = 18000.0, q = 0.7 },
      { kind = "lowshelf", freq_hz = 100.0, gain_db = 1.0, slope = 0.5 },
      { kind = "highshelf", freq_hz = 8000.0, gain_db = -1.0, q = 0.7 },
      { kind = "peak", freq_hz = 1000.0, gain_db = 2.0, q = 1.5 },
      { kind = "notch", freq_hz = 60.0, q = 10.0 },
      { kind = "bandpass", freq_hz = 500.0, q = 2.0 } ] },
  { type = "compressor", threshold_db = -20.0, ratio = 3.0, knee_db = 6.0, attack_ms = 5.0, release_ms = 80.0, makeup_db = 2.0, detector = "rms", mix = 0.8, sidechain = "b" },
  { type = "gate", threshold_db = -60.0, range_db = 40.0, attack_ms = 1.0, hold_ms = 10.0, release_ms = 50.0 },
  { type = "deesser", freq_hz = 6000.0, threshold_db = -30.0, range_db = 6.0 },
  { type = "saturation", model = "tube", drive_db = 3.0, mix = 0.5, output_db = -1.0 },
  { type = "delay", time = "1/8.", feedback = 0.4, mix = 0.2, ping_pong = true, highcut_hz = 6000.0, lowcut_hz = 200.0 },
  { type = "chorus", rate_hz = 0.5, depth_ms = 4.0, mix = 0.3 },
  { type = "reverb", model = "hall", decay_s = 2.0, predelay_ms = 20.0, damping = 0.4, width = 1.2, mix = 0.3 },
  { type = "reverb", ir = "a.wav", predelay_ms = 5.0, mix = 0.5 },
  { type = "width", amount = 1.2, mono_below_hz = 120.0 },
  { type = "gain", gain_db = -1.5 },
]

[[track]]
name = "b"
file = "a.wav"

[[bus]]
name = "verb"
gain_db = -2.0
pan = 0.0
width = 1.0
mute = false
output = "master"
sends = []
fx = [{ type = "delay", time_ms = 250.0 }]

[master]
fx = [{ type = "multiband", crossovers_hz = [200.0, { points = [[0.0, 3000.0], [1.0, 6000.0]], curve = "step" }], bands = [{ ratio = 2.0 }, { threshold_db = -20.0, detector = "peak" }, { mix = 0.5 }] }]
reference = { file = "a.wav", amount = 0.5, match = ["eq", "width"] }
target = { preset = "apple", ceiling_dbtp = -1.5, tolerance_lu = 1.0 }

[[output]]
path = "out.wav"
sample_rate = 48000
bit_depth = 24
dither = "shaped"

[metadata]
title = "t"
artist = "a"
album = "b"
track = 3
year = 2026
genre = "g"
isrc = "USABC2600003"
upc = "012345678905"
comment = "c"
copyright = "2026"
"#;
    assert_eq!(
        violations(&schema::json_schema(), &toml_json(text), ""),
        Vec::<String>::new()
    );
    // The validator agrees.
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", 48000, 2, 48000, |_, n| {
        (n as f32 * 0.01).sin() * 0.1
    });
    let path = sb.write("s.toml", text);
    if let Err(d) = validate::validate(&path, text, &LoadOptions::default()) {
        panic!("{d:#?}");
    }
}

/// Base of the bad snippets: a valid session with one track (`a.wav`) and one bus.
const BASE: &str = "[[track]]\nname = \"a\"\nfile = \"a.wav\"\n";

/// Mistakes a schema can see: each is `BASE` plus lines (or a whole file when it starts with
/// `!`), with what it breaks.
const BAD: &[(&str, &str)] = &[
    ("a number as a string", "gain_db = \"loud\""),
    ("an integer as a float", "[session]\nsample_rate = 48000.0"),
    ("a bool as a string", "mute = \"yes\""),
    ("out of range", "pan = 1.5"),
    ("below range", "offset_s = -0.5"),
    ("integer out of range", "[session]\nsample_rate = 4000"),
    (
        "not one of the integers",
        "[[output]]\npath = \"o.wav\"\nbit_depth = 20",
    ),
    ("unknown key", "gian_db = -3.0"),
    ("unknown top-level key", "[mixer]\ngain_db = 1"),
    ("unknown session key", "[session]\nbpm = 120"),
    ("bad choice", "fade_curve = \"log\""),
    (
        "bad dither",
        "[[output]]\npath = \"o.wav\"\ndither = \"triangular\"",
    ),
    (
        "tail neither auto nor seconds",
        "[session]\ntail = \"long\"",
    ),
    ("tail too long", "[session]\ntail = 31"),
    ("unknown fx type", "fx = [{ type = \"phaser\" }]"),
    ("fx without a type", "fx = [{ ratio = 2.0 }]"),
    (
        "a key of another fx type",
        "fx = [{ type = \"gate\", ratio = 2.0 }]",
    ),
    (
        "compressor ratio below 1",
        "fx = [{ type = \"compressor\", ratio = 0.5 }]",
    ),
    (
        "multiband on a track",
        "fx = [{ type = \"multiband\", crossovers_hz = [200.0], bands = [{}, {}] }]",
    ),
    ("eq without bands", "fx = [{ type = \"eq\" }]"),
    ("eq with no band", "fx = [{ type = \"eq\", bands = [] }]"),
    (
        "bad band kind",
        "fx = [{ type = \"eq\", bands = [{ kind = \"peaking\", freq_hz = 100.0, gain_db = 1.0 }] }]",
    ),
    (
        "q of zero",
        "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 100.0, gain_db = 1.0, q = 0.0 }] }]",
    ),
    (
        "peak without gain",
        "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 100.0 }] }]",
    ),
    (
        "slope on a peak",
        "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 100.0, gain_db = 1.0, slope = 1.0 }] }]",
    ),
    (
        "slope not in the list",
        "fx = [{ type = \"eq\", bands = [{ kind = \"highpass\", freq_hz = 100.0, slope_db_oct = 20 }] }]",
    ),
    (
        "frequency above any Nyquist",
        "fx = [{ type = \"deesser\", freq_hz = 100000.0 }]",
    ),
    (
        "feedback too high",
        "fx = [{ type = \"delay\", time_ms = 100.0, feedback = 1.0 }]",
    ),
    (
        "decay with an impulse response",
        "fx = [{ type = \"reverb\", ir = \"a.wav\", decay_s = 2.0 }]",
    ),
    (
        "reverb without model or ir",
        "fx = [{ type = \"reverb\", mix = 0.5 }]",
    ),
    (
        "send level too high",
        "sends = [{ bus = \"b\", level_db = 20.0 }]\n[[bus]]\nname = \"b\"",
    ),
    ("send without a bus", "sends = [{ level_db = -6.0 }]"),
    (
        "unknown send key",
        "sends = [{ bus = \"b\", post = true }]\n[[bus]]\nname = \"b\"",
    ),
    ("track without a file", "!track = [{ name = \"a\" }]"),
    ("no tracks", "![session]\nname = \"x\""),
    ("an empty track list", "!track = []"),
    (
        "[track] as a single table",
        "![track]\nname = \"a\"\nfile = \"a.wav\"",
    ),
    ("bus without a name", "[[bus]]\ngain_db = 1.0"),
    ("unknown bus key", "[[bus]]\nname = \"b\"\nsolo = true"),
    ("output without a path", "[[output]]\nbit_depth = 24"),
    (
        "an empty output list",
        "!output = []\n[[track]]\nname = \"a\"\nfile = \"a.wav\"",
    ),
    ("target too loud", "[master]\ntarget = { lufs = -2.0 }"),
    (
        "unknown preset",
        "[master]\ntarget = { preset = \"spotfy\" }",
    ),
    (
        "reference amount above 1",
        "[master]\nreference = { file = \"a.wav\", amount = 2.0 }",
    ),
    (
        "match not a dimension",
        "[master]\nreference = { file = \"a.wav\", match = [\"loud\"] }",
    ),
    (
        "five crossovers",
        "[master]\nfx = [{ type = \"multiband\", crossovers_hz = [100.0, 200.0, 400.0, 800.0, 1600.0], bands = [{}, {}, {}, {}, {}, {}] }]",
    ),
    (
        "a crossover envelope past any Nyquist frequency",
        "[master]\nfx = [{ type = \"multiband\", crossovers_hz = [200.0, { points = [[0.0, 1000.0], [1.0, 300000.0]] }], bands = [{}, {}, {}] }]",
    ),
    (
        "sidechain in a multiband band",
        "[master]\nfx = [{ type = \"multiband\", crossovers_hz = [200.0], bands = [{ sidechain = \"a\" }, {}] }]",
    ),
    ("track number 0", "[metadata]\ntrack = 0"),
    ("two-digit year", "[metadata]\nyear = 26"),
    ("unknown metadata key", "[metadata]\nlabel = \"x\""),
];

fn bad_text(snippet: &str) -> String {
    match snippet.strip_prefix('!') {
        Some(whole) => whole.to_string(),
        None => format!("{BASE}{snippet}\n"),
    }
}

#[test]
fn the_schema_and_the_validator_reject_every_bad_snippet() {
    let schema = schema::json_schema();
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", 48000, 1, 4800, |_, n| {
        (n as f32 * 0.01).sin() * 0.1
    });
    let base = sb.write("s.toml", BASE);
    assert!(validate::validate(&base, BASE, &LoadOptions::default()).is_ok());
    assert_eq!(
        violations(&schema, &toml_json(BASE), ""),
        Vec::<String>::new()
    );
    for (what, snippet) in BAD {
        let text = bad_text(snippet);
        assert!(
            !violations(&schema, &toml_json(&text), "").is_empty(),
            "the schema accepts {what}:\n{text}"
        );
        assert!(
            validate::validate(&base, &text, &LoadOptions::default()).is_err(),
            "the validator accepts {what}:\n{text}"
        );
    }
}

/// The bad fixtures whose mistake the schema sees (a type, a range, a choice, an unknown or
/// missing key); the others need the stems, the session rate, other keys or a checksum.
const SCHEMA_LEVEL: &[&str] = &[
    "bad-bit-depth.toml",
    "bad-empty-output-list.toml",
    "bad-empty-track-list.toml",
    "bad-everything.toml",
    "bad-multiband-on-track.toml",
    "bad-negative-offset.toml",
    "bad-negative-time.toml",
    "bad-no-tracks.toml",
    "bad-pan-range.toml",
    "bad-q-zero.toml",
    "bad-sample-rate.toml",
    "bad-single-track-table.toml",
    "bad-tail.toml",
    "bad-unknown-fx-type.toml",
    "bad-unknown-key.toml",
    "bad-wrong-type.toml",
];

/// Bad fixtures that are not TOML at all.
const NOT_TOML: &[&str] = &["bad-syntax.toml"];

#[test]
fn the_schema_rejects_every_schema_level_bad_fixture_and_only_those() {
    let schema = schema::json_schema();
    let dir = fixtures().join("sessions");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("bad-") && f.ends_with(".toml"))
        .collect();
    names.sort();
    for name in &names {
        if NOT_TOML.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let found = violations(&schema, &toml_json(&text), "");
        if SCHEMA_LEVEL.contains(&name.as_str()) {
            assert!(!found.is_empty(), "the schema accepts {name}");
        } else {
            // What the schema cannot see it must not guess at: a session whose keys are
            // right passes it.
            assert_eq!(found, Vec::<String>::new(), "{name}");
        }
    }
    for listed in SCHEMA_LEVEL.iter().chain(NOT_TOML) {
        assert!(names.iter().any(|n| n == listed), "{listed} is gone");
    }
}

// --- The validator reads exactly the table's keys -----------------------------------------

/// `key = value` pairs for an inline table: `defaults` (those `body` does not set), then `body`.
fn inline(defaults: &[(&str, &str)], body: &str) -> String {
    let set = body.split(" =").next().unwrap_or("").trim();
    let mut parts: Vec<String> = defaults
        .iter()
        .filter(|(k, _)| *k != set)
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    parts.push(body.to_string());
    parts.join(", ")
}

/// `parent.key`, or `key` at the top level.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A session that holds a table of `section` with `body` (one `key = value`), and the key
/// path validation names that table by (before a name labels it).
fn host(section: &Section, body: &str) -> (String, String) {
    // Track "a" holds what is tested; track "b" and bus "b" are there to be named.
    let tracks = |a: &str| {
        format!(
            "session = {{ tempo_bpm = 120 }}\ntrack = [{{ {} }}, {{ name = \"b\", file = \"a.wav\" }}]\nbus = [{{ name = \"b\" }}]\n",
            inline(&[("name", "\"a\""), ("file", "\"a.wav\"")], a)
        )
    };
    let fx_defaults = |tag: &str| -> Vec<(&str, &str)> {
        let mut d = vec![("type", "")];
        match tag {
            "delay" if !body.starts_with("time") => d.push(("time_ms", "100.0")),
            "reverb" => d.push(("model", "\"room\"")),
            "eq" => d.push((
                "bands",
                "[{ kind = \"peak\", freq_hz = 100.0, gain_db = 1.0 }]",
            )),
            _ => {}
        }
        d
    };
    let fx = |tag: &str, defaults: &[(&str, &str)]| {
        let mut d: Vec<(&str, &str)> = defaults.to_vec();
        let quoted = format!("\"{tag}\"");
        d[0].1 = &quoted;
        format!("fx = [{{ {} }}]", inline(&d, body))
    };
    let id = section.id;
    match id {
        "root" => (format!("{body}\n{}", tracks("")), String::new()),
        "session" => (
            tracks("").replacen("tempo_bpm = 120", body, 1),
            "session".into(),
        ),
        "track" => (tracks(body), "track[0]".into()),
        "track.regions" => (
            format!(
                "session = {{ tempo_bpm = 120 }}\ntrack = [{{ name = \"a\", regions = [{{ {} }}] }}, {{ name = \"b\", file = \"a.wav\" }}]\nbus = [{{ name = \"b\" }}]\n",
                inline(&[("file", "\"a.wav\"")], body)
            ),
            "track[0].regions[0]".into(),
        ),
        "sends" => (
            tracks(&format!(
                "sends = [{{ {} }}]",
                inline(&[("bus", "\"b\"")], body)
            )),
            "track[0].sends[0]".into(),
        ),
        "bus" => (
            format!(
                "{}bus = [{{ {} }}]\n",
                tracks("").replace("bus = [{ name = \"b\" }]\n", ""),
                inline(&[("name", "\"b\"")], body)
            ),
            "bus[0]".into(),
        ),
        "master" => (
            format!("{}master = {{ {body} }}\n", tracks("")),
            "master".into(),
        ),
        "master.target" => (
            format!(
                "{}master = {{ target = {{ {} }} }}\n",
                tracks(""),
                inline(&[("lufs", "-14.0")], body)
            ),
            "master.target".into(),
        ),
        "master.reference" => (
            format!(
                "{}master = {{ reference = {{ {} }} }}\n",
                tracks(""),
                inline(&[("file", "\"a.wav\"")], body)
            ),
            "master.reference".into(),
        ),
        "output" => (
            format!(
                "{}output = [{{ {} }}]\n",
                tracks(""),
                inline(&[("path", "\"o.wav\"")], body)
            ),
            "output[0]".into(),
        ),
        "metadata" => (
            format!("{}metadata = {{ {body} }}\n", tracks("")),
            "metadata".into(),
        ),
        "fx.reverb.ir" => (
            tracks(&fx("reverb", &[("type", ""), ("ir", "\"a.wav\"")])),
            "track[0].fx[0]".into(),
        ),
        "fx.multiband" => (
            format!(
                "{}master = {{ {} }}\n",
                tracks(""),
                fx(
                    "multiband",
                    &[
                        ("type", ""),
                        ("crossovers_hz", "[1000.0]"),
                        ("bands", "[{}, {}]")
                    ]
                )
            ),
            "master.fx[0]".into(),
        ),
        "fx.multiband.bands" => (
            format!(
                "{}master = {{ fx = [{{ type = \"multiband\", crossovers_hz = [1000.0], bands = [{{ {body} }}, {{}}] }}] }}\n",
                tracks("")
            ),
            "master.fx[0].bands[0]".into(),
        ),
        _ if id.starts_with("fx.eq.bands.") => {
            let kind = match id.rsplit('.').next().unwrap() {
                "pass" => "highpass",
                "shelf" => "lowshelf",
                k => k,
            };
            let kind = format!("\"{kind}\"");
            let band = inline(
                &[
                    ("kind", kind.as_str()),
                    ("freq_hz", "100.0"),
                    ("gain_db", "1.0"),
                ]
                .into_iter()
                .filter(|(k, _)| *k != "gain_db" || section.key("gain_db").is_some())
                .collect::<Vec<_>>(),
                body,
            );
            (
                tracks(&format!(
                    "fx = [{{ type = \"eq\", bands = [{{ {band} }}] }}]"
                )),
                "track[0].fx[0].bands[0]".into(),
            )
        }
        _ => {
            let tag = id
                .strip_prefix("fx.")
                .map(|t| t.split('.').next().unwrap())
                .unwrap_or_else(|| panic!("no host for section {id}"));
            (tracks(&fx(tag, &fx_defaults(tag))), "track[0].fx[0]".into())
        }
    }
}

/// A key path without the names that label tracks and buses (`track[0] "a"` is `track[0]`).
fn unlabel(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find(" \"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        rest = after.find('"').map_or("", |j| &after[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// A value of `k` that the validator takes (in its range, one of its choices).
fn good_value(section: &Section, k: &Key) -> String {
    match (section.id, k.name) {
        ("track" | "track.regions", "end_s") => return "0.05".into(),
        ("track", "name") => return "\"a\"".into(),
        ("track", "output") | ("sends", "bus") | ("bus", "name") => return "\"b\"".into(),
        ("fx.compressor", "sidechain") => return "\"b\"".into(),
        ("fx.delay", "time") => return "\"1/8\"".into(),
        ("fx.delay", "time_ms") => return "100.0".into(),
        ("metadata", "isrc") => return "\"USABC2600003\"".into(),
        ("metadata", "upc") => return "\"012345678905\"".into(),
        ("output", "path") => return "\"o.wav\"".into(),
        _ => {}
    }
    match k.ty {
        Ty::Number { lo, hi } | Ty::Envelope { lo, hi } | Ty::AutoOrSeconds { lo, hi } => {
            format!("{:?}", k.num_default().unwrap_or((lo + hi) / 2.0))
        }
        Ty::Hz { lo } | Ty::HzEnvelope { lo } => {
            format!("{:?}", k.num_default().unwrap_or(lo.max(100.0)))
        }
        Ty::Integer { lo, .. } => k.num_default().map_or(lo, |d| d as i64).to_string(),
        Ty::IntOf(list) => list[0].to_string(),
        Ty::Bool => "true".into(),
        Ty::Text => "\"x\"".into(),
        Ty::File => "\"a.wav\"".into(),
        Ty::Ref => "\"master\"".into(),
        Ty::Choice(c) => format!("\"{}\"", c[c.len() - 1]),
        Ty::Table(_) | Ty::Tables { .. } | Ty::Tagged { .. } | Ty::List { .. } => {
            unreachable!("scalars only")
        }
    }
}

/// Values of `k` the validator must refuse: the wrong type, and just outside its range.
fn bad_values(k: &Key) -> Vec<String> {
    let mut out = Vec::new();
    match k.ty {
        Ty::Number { lo, hi } | Ty::Envelope { lo, hi } => {
            out.push("\"x\"".into());
            out.push(format!("{:?}", lo - (hi - lo).max(1.0)));
            out.push(format!("{:?}", hi + (hi - lo).max(1.0)));
        }
        Ty::AutoOrSeconds { lo, hi } => {
            out.push("\"x\"".into());
            out.push(format!("{:?}", lo - 1.0));
            out.push(format!("{:?}", hi + 1.0));
        }
        Ty::Hz { lo } | Ty::HzEnvelope { lo } => {
            out.push("\"x\"".into());
            out.push(format!("{:?}", lo / 2.0));
            out.push("200000.0".into());
        }
        Ty::Integer { lo, hi } => {
            out.push("1.5".into());
            out.push((lo - 1).to_string());
            out.push((hi + 1).to_string());
        }
        Ty::IntOf(list) => {
            out.push("\"x\"".into());
            out.push((list.iter().max().unwrap() + 1).to_string());
        }
        Ty::Bool => out.push("1".into()),
        Ty::Text | Ty::File | Ty::Ref => out.push("1".into()),
        Ty::Choice(_) => {
            out.push("1".into());
            out.push("\"zz-not-a-choice\"".into());
        }
        Ty::Table(_) | Ty::Tables { .. } | Ty::Tagged { .. } | Ty::List { .. } => {}
    }
    out
}

fn scalar(k: &Key) -> bool {
    !matches!(
        k.ty,
        Ty::Table(_) | Ty::Tables { .. } | Ty::Tagged { .. } | Ty::List { .. }
    )
}

/// The key at `path` in `diags`, ignoring problems located elsewhere.
fn at<'d>(diags: &'d [Diagnostic], path: &str) -> Vec<&'d Diagnostic> {
    diags.iter().filter(|d| unlabel(&d.path) == path).collect()
}

#[test]
fn the_validator_reads_every_key_of_the_table_and_no_other() {
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", 48000, 2, 4800, |_, n| {
        (n as f32 * 0.01).sin() * 0.1
    });
    let file = sb.path("s.toml");
    let run = |text: &str| -> Vec<Diagnostic> {
        match validate::validate(&file, text, &LoadOptions::default()) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        }
    };
    // Every disagreement, so one run shows them all.
    let mut problems: Vec<String> = Vec::new();
    let mut checked_keys = 0;
    for section in keys::sections() {
        // The keys of a tagged variant come with the tag.
        let tag = keys::sections()
            .iter()
            .flat_map(|s| s.keys.iter())
            .find_map(|k| match k.ty {
                Ty::Tagged { tag, variants, .. }
                    if variants.iter().any(|v| v.section.id == section.id) =>
                {
                    Some(tag)
                }
                _ => None,
            });
        // Unknown keys: the validator names exactly the table's keys as allowed.
        let (text, path) = host(section, "zz_unknown = 1");
        let diags = run(&text);
        let unknown = at(&diags, &join(&path, "zz_unknown"));
        let mut allowed: Vec<&str> = tag.into_iter().collect();
        allowed.extend(section.names());
        let want = format!("allowed keys: {}", allowed.join(", "));
        match unknown.as_slice() {
            [one] if one.help.as_deref() == Some(want.as_str()) => {}
            [one] => problems.push(format!(
                "{}: the validator says {:?}, the table {want:?}",
                section.id, one.help
            )),
            _ => problems.push(format!(
                "{}: an unknown key is not reported once: {diags:#?}\n{text}",
                section.id
            )),
        }
        // Every scalar key: a good value passes; the wrong type and values just outside its
        // range are refused at that key, with the table's limit.
        for k in section.keys.iter().filter(|k| scalar(k)) {
            let key_path = join(&path, k.name);
            let (text, _) = host(section, &format!("{} = {}", k.name, good_value(section, k)));
            let diags = run(&text);
            if !at(&diags, &key_path).is_empty()
                || diags.iter().any(|d| d.message.contains("unknown key"))
            {
                problems.push(format!(
                    "{key_path} refused a good value: {diags:#?}\n{text}"
                ));
            }
            for bad in bad_values(k) {
                let (text, _) = host(section, &format!("{} = {bad}", k.name));
                let diags = run(&text);
                let here = at(&diags, &key_path);
                let Some(first) = here.first() else {
                    problems.push(format!("{key_path} = {bad} accepted"));
                    continue;
                };
                if let (Some((lo, hi)), false) = (k.range(), bad.starts_with('"') || bad == "1.5")
                    && !matches!(k.ty, Ty::Hz { .. } | Ty::HzEnvelope { .. })
                {
                    let limit = k.limit.map_or_else(
                        || {
                            let unit = if k.unit.is_empty() {
                                String::new()
                            } else {
                                format!(" {}", k.unit)
                            };
                            format!("between {} and {}{unit}", fmt(lo), fmt(hi))
                        },
                        str::to_string,
                    );
                    if !first.message.contains(&limit) {
                        problems.push(format!(
                            "{key_path} = {bad}: {:?} does not name {limit:?}",
                            first.message
                        ));
                    }
                }
            }
            checked_keys += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked_keys > 100, "only {checked_keys} keys checked");
}

#[test]
fn absent_keys_take_the_tables_defaults() {
    use keys::fx::compressor as c;
    use mixdown::dsp::config::FxConfig;
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", 48000, 2, 4800, |_, n| {
        (n as f32 * 0.01).sin() * 0.1
    });
    let text = "[[track]]\nname = \"a\"\nfile = \"a.wav\"\nfx = [{ type = \"compressor\" }]\n";
    let path = sb.write("s.toml", text);
    let s = validate::validate(&path, text, &LoadOptions::default()).unwrap();
    let t = &s.tracks[0];
    let num = |k: &Key| k.num_default().unwrap();
    assert_eq!(t.gain_db, num(&keys::track::GAIN_DB));
    assert_eq!(t.pan, num(&keys::track::PAN));
    assert_eq!(t.width, num(&keys::track::WIDTH));
    let FxConfig::Compressor(cfg) = &t.fx[0].config else {
        panic!("{:?}", t.fx[0].config)
    };
    assert_eq!(cfg.threshold_db, num(&c::THRESHOLD_DB));
    assert_eq!(cfg.ratio, num(&c::RATIO));
    assert_eq!(cfg.knee_db, num(&c::KNEE_DB));
    assert_eq!(cfg.attack_ms, num(&c::ATTACK_MS));
    assert_eq!(cfg.release_ms, num(&c::RELEASE_MS));
    assert_eq!(cfg.makeup_db, num(&c::MAKEUP_DB));
    assert_eq!(cfg.mix, num(&c::MIX));
    let Absent::Int(rate) = keys::output::SAMPLE_RATE.default else {
        panic!()
    };
    assert_eq!(i64::from(s.outputs[0].sample_rate), rate);
}

fn fmt(x: f64) -> String {
    if x == x.trunc() {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

// --- The README is the table's rendering ------------------------------------------------

/// The README's blocks by section id, as (id, text from the start marker to the end marker).
fn readme_blocks(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("<!-- keys: ") {
        let from = &rest[start..];
        let id_end = from.find(" -->").unwrap();
        let id = from["<!-- keys: ".len()..id_end].to_string();
        let end =
            from.find(schema::BLOCK_END).expect("a block's end marker") + schema::BLOCK_END.len();
        out.push((id, format!("{}\n", &from[..end])));
        rest = &from[end..];
    }
    out
}

#[test]
fn the_readme_session_reference_is_the_key_table() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let blocks = readme_blocks(&readme);
    let generated = schema::blocks();
    let mut fresh = readme.clone();
    let mut stale = Vec::new();
    for (id, want) in &generated {
        match blocks.iter().find(|(b, _)| b == id) {
            Some((_, got)) if got == want => {}
            Some((_, got)) => {
                stale.push(*id);
                fresh = fresh.replacen(got.as_str(), want, 1);
            }
            None => stale.push(*id),
        }
    }
    for (id, _) in &blocks {
        assert!(
            generated.iter().any(|(g, _)| g == id),
            "README block {id} names no section of the key table"
        );
        assert_eq!(
            blocks.iter().filter(|(b, _)| b == id).count(),
            1,
            "README block {id} twice"
        );
    }
    if !stale.is_empty() && std::env::var_os("MIXDOWN_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    assert!(
        stale.is_empty(),
        "README blocks differ from the key table or are missing: {stale:?}; \
         `mixdown schema --markdown` prints them (MIXDOWN_BLESS=1 rewrites those present)"
    );
}
