//! The CI contract of `render`: the report names its schema version and the SHA-256 of every
//! input, and `render --json` prints one machine-readable object on stdout (outputs, levels,
//! every gate with a stable code and its verdict, warnings with codes) while the human text
//! stays on stderr.

mod common;

use std::path::PathBuf;

use common::jsonschema::violations;
use common::{Sandbox, file_sha, report, stderr};

/// Song 1 of the album example (two short Ogg stems) in a sandbox.
fn song() -> Sandbox {
    let sb = Sandbox::new();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/album");
    for rel in ["one.toml", "stems/drums.ogg", "stems/bass.ogg"] {
        let to = sb.path(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), to).unwrap();
    }
    sb
}

#[test]
fn the_report_names_its_schema_and_hashes_every_input() {
    let sb = song();
    let out = sb.run(&["render", "one.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("out/01-opening.report.json"));
    assert_eq!(r["schema_version"], 1);
    let inputs = r["inputs"].as_array().unwrap();
    let paths: Vec<&str> = inputs.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["one.toml", "stems/drums.ogg", "stems/bass.ogg"]);
    for i in inputs {
        assert_eq!(i["sha256"], file_sha(&sb.path(i["path"].as_str().unwrap())));
    }
}

#[test]
fn render_json_is_one_object_on_stdout_with_coded_gates() {
    let sb = song();
    let out = sb.run(&["render", "one.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(
        stderr(&out).contains("wrote out/01-opening.wav"),
        "human text on stderr"
    );
    let r = report(&sb.path("out/01-opening.report.json"));
    assert_eq!(s["passed"], true);
    assert_eq!(s["outputs"][0]["sha256"], r["outputs"][0]["sha256"]);
    assert_eq!(
        s["master"]["integrated_lufs"],
        r["master"]["integrated_lufs"]
    );
    let codes: Vec<(&str, bool)> = s["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["code"].as_str().unwrap(), g["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("clipped_samples", true),
            ("loudness_off_target", true),
            ("true_peak_over", true)
        ]
    );

    // A target the ceiling cannot allow: the loudness gate fails with its code (exit 3), and a
    // hot mix is a coded warning.
    let text = std::fs::read_to_string(sb.path("one.toml")).unwrap();
    sb.write(
        "one.toml",
        &text
            .replace(
                "lufs = -14.0, ceiling_dbtp = -1.0",
                "lufs = -6.0, ceiling_dbtp = -12.0",
            )
            .replace("gain_db = -3.0", "gain_db = 3.0"),
    );
    let out = sb.run(&["render", "one.toml", "--json", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "-q: nothing on stderr");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["passed"], false);
    let failed: Vec<&str> = s["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["passed"] == false)
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["loudness_off_target"]);
    let warnings: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(warnings.contains(&"heavy_limiting"), "{warnings:?}");
}

#[test]
fn reports_follow_the_schema_the_tool_ships() {
    let out = common::mixdown()
        .args(["schema", "--report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["properties"]["schema_version"]["const"], 1);
    // A passing render, and a failing one with warnings under --strict, both conform.
    let sb = song();
    let out = sb.run(&["render", "one.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("out/01-opening.report.json"));
    assert_eq!(violations(&schema, &r, ""), Vec::<String>::new());
    let text = std::fs::read_to_string(sb.path("one.toml")).unwrap();
    sb.write("one.toml", &text.replace("gain_db = -3.0", "gain_db = 6.0"));
    let out = sb.run(&["render", "one.toml", "-q", "--strict"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let r = report(&sb.path("out/01-opening.report.json"));
    assert!(!r["gates"].as_array().unwrap().is_empty());
    assert_eq!(violations(&schema, &r, ""), Vec::<String>::new());
    // The checker is not blind: a field the schema does not know is caught.
    let mut bad = r.clone();
    bad["mix"]["surprise"] = serde_json::json!(1);
    assert_eq!(
        violations(&schema, &bad, ""),
        [".mix.surprise: not in the schema"]
    );
}

/// A session file whose stems and impulse response lie outside its folder renders the same bytes,
/// and names its inputs the same way, wherever its checkout lies.
#[test]
fn a_session_renders_the_same_bytes_wherever_it_lies() {
    let mut shas = Vec::new();
    let mut inputs = Vec::new();
    for root in ["", "deep/er/still/"] {
        let sb = Sandbox::new();
        let tone = |c: usize, n: usize| 0.3 * ((n as f32 * 0.031) + c as f32).sin();
        sb.stem_i16(&format!("{root}stems/tone.wav"), 44100, 2, 44100, tone);
        sb.stem_f32(&format!("{root}irs/room.wav"), 44100, 2, 2000, |c, n| {
            if n == c * 7 { 0.5 } else { 0.0 }
        });
        sb.write(
            &format!("{root}song/session.toml"),
            r#"[[track]]
name = "tone"
file = "../stems/tone.wav"
fx = [{ type = "reverb", ir = "../irs/room.wav", mix = 0.3 }]

[[output]]
path = "out.wav"
"#,
        );
        let s = sb.path(&format!("{root}song/session.toml"));
        let out = sb.run(&["render", s.to_str().unwrap(), "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let r = report(&sb.path(&format!("{root}song/out.report.json")));
        shas.push(r["outputs"][0]["sha256"].clone());
        inputs.push(r["inputs"].clone());
    }
    assert_eq!(
        shas[0], shas[1],
        "the same dither wherever the session lies"
    );
    assert_eq!(inputs[0], inputs[1]);
    assert_eq!(inputs[0][1]["path"], "../stems/tone.wav");
    assert_eq!(inputs[0][2]["path"], "../irs/room.wav");
}
