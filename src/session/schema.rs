//! The key table ([`super::keys`]) rendered for people and editors: a JSON Schema of the
//! session file (`mixdown schema`) and the Markdown tables of the README's session reference
//! (`mixdown schema --markdown`).
//!
//! The schema is JSON Schema draft 4, the draft Taplo (the TOML language server behind Even
//! Better TOML) documents; it uses only keywords that draft 4 and every later draft read the
//! same way, inlines every subschema (Taplo ignores the description beside a `$ref`), and
//! closes every table (`additionalProperties: false`) as validation does. It says what one
//! key can say: types, ranges, choices, required keys, unknown keys. Limits that depend on
//! other keys, the session rate or the stems (see [`super::keys`]) are left to `mixdown check`.

use serde_json::{Map, Value, json};

use super::keys::{self, Absent, Key, Section, Ty, Variant};
use super::walk::fmt_num;
use crate::io::decode::MAX_RATE;

/// The highest Nyquist frequency any session can have, the schema's bound on frequencies.
const MAX_NYQUIST_HZ: f64 = MAX_RATE as f64 / 2.0;

/// The session file's JSON Schema.
pub fn json_schema() -> Value {
    let root = &keys::root::SECTION;
    let mut s = section_schema(root, None);
    let obj = s.as_object_mut().expect("a section renders as an object");
    obj.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-04/schema#"),
    );
    obj.insert("title".into(), json!("mixdown session"));
    s
}

/// An object schema for a section's table; `tag` is the key and value a tagged variant adds
/// (`type = "eq"`).
fn section_schema(s: &Section, tag: Option<(&str, &str)>) -> Value {
    let mut props = Map::new();
    let mut required: Vec<&str> = Vec::new();
    if let Some((key, value)) = tag {
        props.insert(
            key.into(),
            json!({ "type": "string", "enum": [value], "description": variant_doc(s) }),
        );
        required.push(key);
    }
    for k in s.keys {
        props.insert(k.name.into(), key_schema(k));
        if k.required() {
            required.push(k.name);
        }
    }
    let mut out = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": props,
    });
    if !required.is_empty() {
        out["required"] = json!(required);
    }
    if let Some((_, keys)) = keys::ONE_OF.iter().find(|(id, _)| *id == s.id) {
        let each: Vec<Value> = keys.iter().map(|k| json!({ "required": [k] })).collect();
        out["oneOf"] = json!(each);
    }
    let doc = variant_doc(s);
    if !doc.is_empty() {
        out["description"] = json!(doc);
    }
    out
}

fn variant_doc(s: &Section) -> String {
    if s.doc.is_empty() {
        s.title.to_string()
    } else {
        format!("{}: {}", s.title, s.doc)
    }
}

/// A key's schema: its type's, with its description and default.
fn key_schema(k: &Key) -> Value {
    let mut v = ty_schema(&k.ty);
    let obj = v.as_object_mut().expect("a type renders as an object");
    obj.insert("description".into(), json!(description(k)));
    let default = match k.default {
        Absent::Num(x) => Some(json!(x)),
        Absent::Int(i) => Some(json!(i)),
        Absent::Bool(b) => Some(json!(b)),
        Absent::Str(s) => Some(json!(s)),
        _ => None,
    };
    if let Some(d) = default {
        obj.insert("default".into(), d);
    }
    v
}

fn ty_schema(ty: &Ty) -> Value {
    match *ty {
        Ty::Number { lo, hi } => json!({ "type": "number", "minimum": lo, "maximum": hi }),
        Ty::Envelope { lo, hi } => json!({ "anyOf": [
            { "type": "number", "minimum": lo, "maximum": hi },
            envelope_schema(lo, hi),
        ] }),
        Ty::Hz { lo } => json!({
            "type": "number",
            "minimum": lo,
            "maximum": MAX_NYQUIST_HZ,
            "exclusiveMaximum": true,
        }),
        Ty::HzEnvelope { lo } => json!({ "anyOf": [
            ty_schema(&Ty::Hz { lo }),
            envelope_schema(lo, MAX_NYQUIST_HZ),
        ] }),
        Ty::Integer { lo, hi } => json!({ "type": "integer", "minimum": lo, "maximum": hi }),
        Ty::IntOf(list) => json!({ "type": "integer", "enum": list }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Text | Ty::File | Ty::Ref => json!({ "type": "string" }),
        Ty::Choice(list) => json!({ "type": "string", "enum": list }),
        Ty::AutoOrSeconds { lo, hi } => json!({ "anyOf": [
            { "type": "string", "enum": ["auto"] },
            { "type": "number", "minimum": lo, "maximum": hi },
        ] }),
        Ty::Table(s) => section_schema(s, None),
        Ty::Tables { of, min, max } => {
            let mut v = json!({ "type": "array", "items": section_schema(of, None) });
            items_bounds(&mut v, min, max);
            v
        }
        Ty::Tagged { tag, variants, min } => {
            let items: Vec<Value> = variants
                .iter()
                .map(
                    |Variant {
                         tag: value,
                         section,
                     }| section_schema(section, Some((tag, value))),
                )
                .collect();
            let mut v = json!({ "type": "array", "items": { "anyOf": items } });
            items_bounds(&mut v, min, usize::MAX);
            v
        }
        Ty::List { item, min, max } => {
            let mut v = json!({ "type": "array", "items": ty_schema(item) });
            items_bounds(&mut v, min, max);
            v
        }
    }
}

/// An automation envelope whose values lie in `lo..=hi`: `{ points = [[t, v], ...], curve }`,
/// each time in seconds or a `"bar:beat"` string.
fn envelope_schema(lo: f64, hi: f64) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["points"],
        "description": "an automation envelope: points [time, value], times ascending, in seconds or \"bar:beat\" with [session].tempo_bpm",
        "properties": {
            "points": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "additionalItems": false,
                    "items": [
                        { "anyOf": [{ "type": "number", "minimum": 0 }, { "type": "string" }] },
                        { "type": "number", "minimum": lo, "maximum": hi },
                    ],
                },
            },
            "curve": {
                "type": "string",
                "enum": keys::ENVELOPE_CURVES,
                "default": keys::ENVELOPE_CURVES[0],
                "description": "how values move between points",
            },
        },
    })
}

fn items_bounds(v: &mut Value, min: usize, max: usize) {
    if min > 0 {
        v["minItems"] = json!(min);
    }
    if max != usize::MAX {
        v["maxItems"] = json!(max);
    }
}

/// A key's hover text: its meaning, then its default and range.
fn description(k: &Key) -> String {
    let mut facts = Vec::new();
    match default_text(k).as_str() {
        "**required**" => facts.push("Required.".to_string()),
        "" => {}
        d => facts.push(format!("Default: {}.", d.replace('`', ""))),
    }
    let range = range_text(k);
    if !range.is_empty() {
        let label = match k.ty {
            Ty::Choice(_) | Ty::Tagged { .. } => "One of",
            _ => "Range",
        };
        facts.push(format!("{label}: {}.", range.replace('`', "")));
    }
    if facts.is_empty() {
        k.doc.to_string()
    } else {
        format!("{}\n\n{}", k.doc, facts.join(" "))
    }
}

/// The README's tables: one block per section, each between `<!-- keys: ID -->` and
/// `<!-- /keys -->` so a test can find it in the README and the README can be refreshed.
pub fn markdown() -> String {
    blocks()
        .into_iter()
        .map(|(_, b)| b)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every block of the README's session reference with its id: one per section, and the
/// loudness presets.
pub fn blocks() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = keys::sections()
        .into_iter()
        .map(|s| (s.id, markdown_block(s)))
        .collect();
    out.push((PRESETS_ID, presets_block()));
    out
}

/// The id of the block that lists the loudness presets.
pub const PRESETS_ID: &str = "master.target.presets";

/// The loudness presets of `target.preset` as a table.
fn presets_block() -> String {
    let mut out = format!(
        "{}\n| preset | LUFS | ceiling dBTP |\n|---|---|---|\n",
        block_start(PRESETS_ID)
    );
    for (name, lufs, ceiling) in keys::target::PRESETS {
        out.push_str(&format!(
            "| `{name}` | {} | {} |\n",
            fmt_num(lufs),
            fmt_num(ceiling)
        ));
    }
    out.push_str(BLOCK_END);
    out.push('\n');
    out
}

/// One section's block: its doc, then a table of its keys.
pub fn markdown_block(s: &Section) -> String {
    let mut out = format!("{}\n", block_start(s.id));
    if !s.doc.is_empty() {
        out.push_str(s.doc);
        out.push_str("\n\n");
    }
    out.push_str("| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for k in s.keys {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            cell(&type_text(&k.ty)),
            cell(&default_text(k)),
            cell(&range_text(k)),
            cell(k.doc)
        ));
    }
    out.push_str(BLOCK_END);
    out.push('\n');
    out
}

/// The line that opens a section's block.
pub fn block_start(id: &str) -> String {
    format!("<!-- keys: {id} -->")
}

/// The line that closes a block.
pub const BLOCK_END: &str = "<!-- /keys -->";

/// Text for a Markdown table cell: a `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|c| format!("`\"{c}\"`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_text(ty: &Ty) -> String {
    match *ty {
        Ty::Number { .. } | Ty::Hz { .. } => "number".into(),
        Ty::Envelope { .. } | Ty::HzEnvelope { .. } => "number or envelope".into(),
        Ty::Integer { .. } | Ty::IntOf(_) => "integer".into(),
        Ty::Bool => "boolean".into(),
        Ty::Text => "string".into(),
        Ty::File => "path".into(),
        Ty::Ref => "name".into(),
        Ty::Choice(_) => "choice".into(),
        Ty::AutoOrSeconds { .. } => "`\"auto\"` or number".into(),
        Ty::Table(s) => format!("table ({})", s.title),
        Ty::Tables { of, .. } => format!("array of tables ({})", of.title),
        Ty::Tagged { tag, .. } => format!("array of tables by `{tag}`"),
        Ty::List { item, .. } => format!("array of {}", type_text(item)),
    }
}

fn default_text(k: &Key) -> String {
    match k.default {
        Absent::Required => "**required**".into(),
        Absent::Off => "none".into(),
        Absent::Num(x) => fmt_num(x),
        Absent::Int(i) => i.to_string(),
        Absent::Bool(b) => b.to_string(),
        Absent::Str(s) => format!("`\"{s}\"`"),
        Absent::Described(d) => d.into(),
        Absent::ByChoice { key, values } => {
            let list: Vec<String> = values
                .iter()
                .map(|(c, v)| format!("{c} {}", fmt_num(*v)))
                .collect();
            format!("by `{key}`: {}", list.join(", "))
        }
    }
}

fn with_unit(x: String, unit: &str) -> String {
    match unit {
        "" => x,
        u if u.starts_with(':') => format!("{x}{u}"),
        u => format!("{x} {u}"),
    }
}

fn span_text(lo: f64, hi: f64, unit: &str) -> String {
    with_unit(format!("{}..{}", fmt_num(lo), fmt_num(hi)), unit)
}

fn range_text(k: &Key) -> String {
    ty_range(&k.ty, k.unit)
}

fn ty_range(ty: &Ty, unit: &str) -> String {
    match *ty {
        Ty::Number { lo, hi } | Ty::Envelope { lo, hi } => span_text(lo, hi, unit),
        Ty::Hz { lo } | Ty::HzEnvelope { lo } => {
            format!("from {} to below Nyquist", with_unit(fmt_num(lo), unit))
        }
        Ty::Integer { lo, hi } => span_text(lo as f64, hi as f64, unit),
        Ty::IntOf(list) => list
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Ty::Choice(list) => quoted(list),
        Ty::AutoOrSeconds { lo, hi } => format!("`\"auto\"` or {}", span_text(lo, hi, unit)),
        Ty::Tables { min, max, .. } => count_text(min, max),
        Ty::Tagged { variants, min, .. } => {
            let tags = quoted(&keys::tags(variants));
            match count_text(min, usize::MAX) {
                c if c.is_empty() => tags,
                c => format!("{c}, of {tags}"),
            }
        }
        Ty::List { item, min, max } => {
            let each = ty_range(item, unit);
            match count_text(min, max) {
                c if c.is_empty() => each,
                c => format!("{c}, each {each}"),
            }
        }
        Ty::Bool | Ty::Text | Ty::File | Ty::Ref | Ty::Table(_) => String::new(),
    }
}

fn count_text(min: usize, max: usize) -> String {
    match (min, max) {
        (0, usize::MAX) => String::new(),
        (m, usize::MAX) => format!("at least {m}"),
        (0, m) => format!("at most {m}"),
        (a, b) => format!("{a} to {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_has_one_block_and_every_key_one_row() {
        let md = markdown();
        assert_eq!(md.matches(&block_start(PRESETS_ID)).count(), 1);
        for s in keys::sections() {
            assert_eq!(md.matches(&block_start(s.id)).count(), 1, "{}", s.id);
            let block = markdown_block(s);
            assert_eq!(
                block.lines().filter(|l| l.starts_with("| `")).count(),
                s.keys.len()
            );
        }
    }

    #[test]
    fn the_schema_closes_every_table_and_carries_ranges() {
        let s = json_schema();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-04/schema#");
        assert_eq!(s["additionalProperties"], false);
        let track = &s["properties"]["track"]["items"];
        assert_eq!(track["additionalProperties"], false);
        assert_eq!(track["required"], json!(["name"]));
        assert_eq!(
            track["oneOf"],
            json!([{ "required": ["file"] }, { "required": ["regions"] }])
        );
        // The fader takes a number or an envelope, both within -96..24 dB.
        let gain = &track["properties"]["gain_db"];
        assert_eq!(gain["anyOf"][0]["minimum"], -96.0);
        assert_eq!(gain["anyOf"][0]["maximum"], 24.0);
        let value = &gain["anyOf"][1]["properties"]["points"]["items"]["items"][1];
        assert_eq!(
            (value["minimum"].as_f64(), value["maximum"].as_f64()),
            (Some(-96.0), Some(24.0))
        );
        assert_eq!(gain["default"], 0.0);
        assert!(gain["description"].as_str().unwrap().starts_with("fader"));
    }

    #[test]
    fn an_envelope_is_a_number_or_points_in_range() {
        let v = ty_schema(&Ty::Envelope { lo: -1.0, hi: 1.0 });
        let env = &v["anyOf"][1];
        assert_eq!(env["required"], json!(["points"]));
        let value = &env["properties"]["points"]["items"]["items"][1];
        assert_eq!(
            (value["minimum"].as_f64(), value["maximum"].as_f64()),
            (Some(-1.0), Some(1.0))
        );
        assert_eq!(
            env["properties"]["curve"]["enum"],
            json!(keys::ENVELOPE_CURVES)
        );
    }
}
