//! Typed, located reads from the parsed TOML tree.
//!
//! The session file is parsed once into toml's spanned document tree; these helpers read keys from
//! it, check their types and ranges, and record a [`Diagnostic`](super::diag::Diagnostic) for every
//! problem instead of stopping at the first, which serde derive cannot do.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diags, Span, closest};
use super::keys::{Key, Section, Ty};

/// A TOML value with its byte span.
pub type Val<'i> = Spanned<DeValue<'i>>;

/// A table being read, with the key path that names it in messages.
#[derive(Clone)]
pub struct Tbl<'a, 'i> {
    pub t: &'a DeTable<'i>,
    pub span: Span,
    pub path: String,
}

/// A number read from the session, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Num {
    pub v: f64,
    pub span: Span,
}

/// A string read from the session, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    pub v: String,
    pub span: Span,
}

/// Format a number for messages: no trailing zeros, no exponent for ordinary values.
pub fn fmt_num(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// "a string", "an integer", ... for type errors.
pub fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Child path `parent.key` (or just `key` at the top level).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The value of a TOML integer in any base it may be written in (`42`, `+42`, `1_000`,
/// `0x2A`, `0o52`, `0b101010`); `None` for other values or one outside i64.
fn parse_int(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    }
}

/// The value of a TOML number: an integer in any base, or a float (`inf` and `nan` read as
/// non-finite). Every number in a session is read through this one function.
pub fn number(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Integer(_) => parse_int(v).map(|i| i as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        _ => None,
    }
}

impl<'a, 'i> Tbl<'a, 'i> {
    pub fn new(t: &'a DeTable<'i>, span: Span, path: String) -> Self {
        Tbl { t, span, path }
    }

    pub fn get(&self, key: &str) -> Option<&'a Val<'i>> {
        self.t.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.t.get(key).is_some()
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The span of a key (its value), or of the whole table when the key is absent.
    pub fn span_of(&self, key: &str) -> Span {
        self.get(key).map_or(self.span.clone(), |v| v.span())
    }

    /// Report every key not in `allowed`, with a "did you mean" when one is close.
    pub fn check_keys(&self, d: &mut Diags<'_>, allowed: &[&str]) {
        for (k, _) in self.t.iter() {
            let name: &str = k.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let help = match closest(name, allowed.iter().copied()) {
                Some(c) => format!("did you mean `{c}`? allowed keys: {}", allowed.join(", ")),
                None => format!("allowed keys: {}", allowed.join(", ")),
            };
            d.push(
                Some(&k.span()),
                &self.key_path(name),
                ": unknown key".to_string(),
                Some(help),
            );
        }
    }

    fn wrong_type(&self, d: &mut Diags<'_>, key: &str, v: &Val<'_>, expected: &str) {
        d.bad_value(
            &v.span(),
            &self.key_path(key),
            format!("expected {expected}, found {}", type_name(v.get_ref())),
        );
    }

    /// An envelope (a table) where the key takes only a number: say so rather than "wrong type".
    fn not_automatable(&self, d: &mut Diags<'_>, key: &str, v: &Val<'_>) {
        d.bad_value_help(
            &v.span(),
            &self.key_path(key),
            "this key cannot be automated: it takes a number, not an envelope",
            "envelopes work on gain_db, pan, width, a send's level_db and the processor \
             parameters the README lists as automatable",
        );
    }

    /// An optional number (integers are accepted). Non-finite values are errors.
    pub fn num(&self, d: &mut Diags<'_>, key: &str) -> Option<Num> {
        let v = self.get(key)?;
        let span = v.span();
        if matches!(v.get_ref(), DeValue::Table(_)) {
            self.not_automatable(d, key, v);
            return None;
        }
        if !matches!(v.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) {
            self.wrong_type(d, key, v, "a number");
            return None;
        }
        let x = number(v.get_ref());
        match x {
            Some(x) if x.is_finite() => Some(Num { v: x, span }),
            _ => {
                d.bad_value(&span, &self.key_path(key), "must be a finite number");
                None
            }
        }
    }

    /// An optional integer.
    pub fn int(&self, d: &mut Diags<'_>, key: &str) -> Option<(i64, Span)> {
        let v = self.get(key)?;
        match parse_int(v.get_ref()) {
            Some(i) => Some((i, v.span())),
            None if matches!(v.get_ref(), DeValue::Integer(_)) => {
                d.bad_value(&v.span(), &self.key_path(key), "integer out of range");
                None
            }
            None if matches!(v.get_ref(), DeValue::Table(_)) => {
                self.not_automatable(d, key, v);
                None
            }
            None => {
                self.wrong_type(d, key, v, "an integer");
                None
            }
        }
    }

    /// An optional string.
    pub fn str(&self, d: &mut Diags<'_>, key: &str) -> Option<Str> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Str {
                v: s.to_string(),
                span: v.span(),
            }),
            _ => {
                self.wrong_type(d, key, v, "a string");
                None
            }
        }
    }

    /// An optional boolean.
    pub fn bool(&self, d: &mut Diags<'_>, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(d, key, v, "true or false");
                None
            }
        }
    }

    /// An optional array of values.
    pub fn array(&self, d: &mut Diags<'_>, key: &str) -> Option<&'a [Val<'i>]> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(a) => Some(&a[..]),
            _ => {
                self.wrong_type(d, key, v, "an array");
                None
            }
        }
    }

    /// An optional sub-table.
    pub fn table(&self, d: &mut Diags<'_>, key: &str) -> Option<Tbl<'a, 'i>> {
        let v = self.get(key)?;
        as_table(d, v, self.key_path(key))
    }

    /// A required value: record "missing" when absent.
    pub fn require(&self, d: &mut Diags<'_>, key: &str, what: &str) -> bool {
        if self.has(key) {
            return true;
        }
        d.push(
            Some(&self.span),
            &self.key_path(key),
            format!(": missing; {what}"),
            None,
        );
        false
    }

    /// A number that must lie in `[lo, hi]`; absent gives `default`. Out of range is recorded
    /// and the default returned so validation can go on.
    pub fn num_in(
        &self,
        d: &mut Diags<'_>,
        key: &str,
        default: f64,
        lo: f64,
        hi: f64,
        unit: &str,
    ) -> f64 {
        match self.num(d, key) {
            Some(n) if n.v >= lo && n.v <= hi => n.v,
            Some(n) => {
                d.bad_value(&n.span, &self.key_path(key), range_text(lo, hi, unit));
                default
            }
            None => default,
        }
    }

    pub fn bool_or(&self, d: &mut Diags<'_>, key: &str, default: bool) -> bool {
        self.bool(d, key).unwrap_or(default)
    }

    /// A string that must be one of `choices`; absent gives `None`.
    pub fn choice(&self, d: &mut Diags<'_>, key: &str, choices: &[&str]) -> Option<Str> {
        let s = self.str(d, key)?;
        if choices.contains(&s.v.as_str()) {
            return Some(s);
        }
        let list = choices
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let help = closest(&s.v, choices.iter().copied()).map(|c| format!("did you mean \"{c}\"?"));
        let msg = format!("must be one of {list}");
        match help {
            Some(h) => d.bad_value_help(&s.span, &self.key_path(key), msg, h),
            None => d.bad_value(&s.span, &self.key_path(key), msg),
        }
        None
    }
}

/// Reads driven by the key table: the key's name, type, range, default and choices come from
/// its [`Key`], so no limit is written twice.
impl<'a, 'i> Tbl<'a, 'i> {
    /// Report every key that is not in `section` (nor `extra`, e.g. the `type` of an fx entry).
    pub fn check_section(&self, d: &mut Diags<'_>, section: &Section, extra: &[&str]) {
        let mut allowed: Vec<&str> = extra.to_vec();
        allowed.extend(section.names());
        self.check_keys(d, &allowed);
    }

    /// A number key: its value, or its default when absent or out of range (recorded).
    pub fn num_of(&self, d: &mut Diags<'_>, k: &Key) -> f64 {
        debug_assert!(
            k.num_default().is_some(),
            "{} has no numeric default",
            k.name
        );
        let default = k.num_default().unwrap_or(0.0);
        self.opt_num_of(d, k).unwrap_or(default)
    }

    /// A number key with no default: `None` when absent or out of range (recorded).
    pub fn opt_num_of(&self, d: &mut Diags<'_>, k: &Key) -> Option<f64> {
        let (lo, hi) = k.range().unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let n = self.num(d, k.name)?;
        if n.v >= lo && n.v <= hi {
            Some(n.v)
        } else {
            let msg = k
                .limit
                .map_or_else(|| range_text(lo, hi, k.unit), str::to_string);
            d.bad_value(&n.span, &self.key_path(k.name), msg);
            None
        }
    }

    /// An integer key in its range or list: `None` when absent or not allowed (recorded).
    pub fn int_of(&self, d: &mut Diags<'_>, k: &Key) -> Option<i64> {
        let (i, span) = self.int(d, k.name)?;
        let ok = match k.ty {
            Ty::Integer { lo, hi } => (lo..=hi).contains(&i),
            Ty::IntOf(list) => list.contains(&i),
            _ => true,
        };
        if ok {
            return Some(i);
        }
        let msg = match (k.limit, k.ty) {
            (Some(l), _) => l.to_string(),
            (None, Ty::IntOf(list)) => {
                let list: Vec<String> = list.iter().map(i64::to_string).collect();
                format!("must be {}", or_list(&list))
            }
            (None, Ty::Integer { lo, hi }) => range_text(lo as f64, hi as f64, k.unit),
            (None, _) => "is not allowed".to_string(),
        };
        d.bad_value(&span, &self.key_path(k.name), msg);
        None
    }

    /// A boolean key, or its default.
    pub fn bool_of(&self, d: &mut Diags<'_>, k: &Key) -> bool {
        let default = matches!(k.default, super::keys::Absent::Bool(true));
        self.bool_or(d, k.name, default)
    }

    /// A choice key: `None` when absent or not one of its choices (recorded).
    pub fn choice_of(&self, d: &mut Diags<'_>, k: &Key) -> Option<Str> {
        self.choice(d, k.name, k.choices())
    }
}

/// `a, b or c`.
pub fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Read a value as a table, recording a type error otherwise.
pub fn as_table<'a, 'i>(d: &mut Diags<'_>, v: &'a Val<'i>, path: String) -> Option<Tbl<'a, 'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(Tbl::new(t, v.span(), path)),
        other => {
            d.bad_value(
                &v.span(),
                &path,
                format!("expected a table, found {}", type_name(other)),
            );
            None
        }
    }
}

/// "must be between 0 and 1 s" and friends.
pub fn range_text(lo: f64, hi: f64, unit: &str) -> String {
    let u = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    if hi == f64::INFINITY {
        format!("must be at least {}{u}", fmt_num(lo))
    } else if lo == f64::NEG_INFINITY {
        format!("must be at most {}{u}", fmt_num(hi))
    } else {
        format!("must be between {} and {}{u}", fmt_num(lo), fmt_num(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(fmt_num(24000.0), "24000");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-3.25), "-3.25");
        assert_eq!(range_text(-1.0, 1.0, ""), "must be between -1 and 1");
        assert_eq!(range_text(0.0, f64::INFINITY, "s"), "must be at least 0 s");
    }
}
