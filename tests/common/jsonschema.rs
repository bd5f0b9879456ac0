//! A small JSON Schema checker for the tests: the keywords the report's schema (draft 2020-12)
//! and the session's schema (draft 4) use, read the way both drafts agree on.

use serde_json::Value;

/// Check `v` against `schema`: `type` (with "null"; an integer is a number), `const`, `enum`,
/// `pattern` (only `^[0-9a-f]{64}$`), `properties`, `required`, `additionalProperties: false`,
/// `items` (one schema, or a list for positions with `additionalItems: false`), `minItems`,
/// `maxItems`, `minimum`, `maximum`, `exclusiveMaximum` (draft 4's boolean or a number),
/// `anyOf` and `oneOf`. Returns every violation with its path.
pub fn violations(schema: &Value, v: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let type_of = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema at {path}"),
        };
        let actual = type_of(v);
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !ok {
            out.push(format!("{path}: {actual}, schema says {allowed:?}"));
            return out;
        }
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        out.push(format!("{path}: {v}, schema says const {c}"));
    }
    if let Some(Value::Array(e)) = schema.get("enum")
        && !e.iter().any(|x| same(x, v))
    {
        out.push(format!("{path}: {v} not in {e:?}"));
    }
    if schema.get("pattern").is_some() {
        let s = v.as_str().unwrap_or("");
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            out.push(format!("{path}: {s:?} is not 64 hex digits"));
        }
    }
    if let Some(x) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && x < min
        {
            out.push(format!("{path}: {x} below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            let exclusive = schema.get("exclusiveMaximum") == Some(&Value::Bool(true));
            if x > max || (exclusive && x == max) {
                out.push(format!("{path}: {x} above the maximum {max}"));
            }
        }
        if let Some(max) = schema.get("exclusiveMaximum").and_then(Value::as_f64)
            && x >= max
        {
            out.push(format!("{path}: {x} not below {max}"));
        }
    }
    if let Value::Object(map) = v {
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req {
                if !map.contains_key(r.as_str().unwrap()) {
                    out.push(format!("{path}.{}: required, missing", r.as_str().unwrap()));
                }
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (k, x) in map {
                match props.get(k) {
                    Some(s) => out.extend(violations(s, x, &format!("{path}.{k}"))),
                    None if schema["additionalProperties"] == false => {
                        out.push(format!("{path}.{k}: not in the schema"))
                    }
                    None => {}
                }
            }
        }
    }
    if let Value::Array(a) = v {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (a.len() as u64) < min
        {
            out.push(format!("{path}: {} items, at least {min}", a.len()));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && (a.len() as u64) > max
        {
            out.push(format!("{path}: {} items, at most {max}", a.len()));
        }
        match schema.get("items") {
            Some(Value::Array(positions)) => {
                for (i, x) in a.iter().enumerate() {
                    match positions.get(i) {
                        Some(s) => out.extend(violations(s, x, &format!("{path}[{i}]"))),
                        None if schema["additionalItems"] == false => {
                            out.push(format!("{path}[{i}]: no item allowed here"))
                        }
                        None => {}
                    }
                }
            }
            Some(items) => {
                for (i, x) in a.iter().enumerate() {
                    out.extend(violations(items, x, &format!("{path}[{i}]")));
                }
            }
            None => {}
        }
    }
    if let Some(Value::Array(branches)) = schema.get("anyOf") {
        let results: Vec<Vec<String>> = branches.iter().map(|b| violations(b, v, path)).collect();
        if !results.iter().any(Vec::is_empty) {
            out.push(format!(
                "{path}: matches none of anyOf ({})",
                closest(&results)
            ));
        }
    }
    if let Some(Value::Array(branches)) = schema.get("oneOf") {
        let results: Vec<Vec<String>> = branches.iter().map(|b| violations(b, v, path)).collect();
        match results.iter().filter(|r| r.is_empty()).count() {
            1 => {}
            0 => out.push(format!(
                "{path}: matches none of oneOf ({})",
                closest(&results)
            )),
            n => out.push(format!("{path}: matches {n} branches of oneOf")),
        }
    }
    out
}

/// The violations of the branch that came closest, for messages.
fn closest(results: &[Vec<String>]) -> String {
    results
        .iter()
        .min_by_key(|r| r.len())
        .map(|r| r.join("; "))
        .unwrap_or_default()
}

/// JSON equality where 1 and 1.0 are the same number, as JSON Schema has it.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
