//! The `fields`, `docvalue_fields` and `stored_fields` options of a search: per-hit values computed
//! from `_source`, typed by the mapping, as Elasticsearch's fields API shows them
//! (docs: search-fields.html; ES source: FieldFetcher / ValueFetcher of each field mapper).
//!
//! Values are always arrays. Dates are printed with the field's format (or the requested one),
//! numbers are parsed and coerced like the field's mapper does it, `.keyword` multi-fields show their
//! parent's values (minus the ones over `ignore_above`), `null_value` stands in for nulls.

use crate::catalog::{IndexMeta, glob_match};
use crate::error::EsError;
use crate::schema::columns::FieldInfo;
use crate::schema::dates;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One entry of `fields` / `docvalue_fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRequest {
    pub pattern: String,
    pub format: Option<String>,
    pub include_unmapped: bool,
}

impl FieldRequest {
    /// Parses `["a", {"field": "b", "format": "..."}]` (the key names the option in errors).
    pub fn parse_list(v: &Value, key: &str) -> Result<Vec<FieldRequest>, EsError> {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::String(_) | Value::Object(_) => vec![v],
            _ => {
                return Err(EsError::parsing(format!(
                    "Expected [START_ARRAY] in [{key}] but found [{}]",
                    token_name(v)
                )));
            }
        };
        let mut out = Vec::new();
        for it in items {
            match it {
                Value::String(s) => out.push(FieldRequest {
                    pattern: s.clone(),
                    format: None,
                    include_unmapped: false,
                }),
                Value::Object(o) => {
                    let mut r = FieldRequest {
                        pattern: String::new(),
                        format: None,
                        include_unmapped: false,
                    };
                    for (k, v) in o {
                        match k.as_str() {
                            "field" => r.pattern = v.as_str().unwrap_or_default().to_string(),
                            "format" => r.format = v.as_str().map(str::to_string),
                            "include_unmapped" if key == "fields" => {
                                r.include_unmapped = v.as_bool().unwrap_or(false)
                            }
                            other => {
                                return Err(EsError::x_content_parse(format!(
                                    "[field_and_format] unknown field [{other}]"
                                )));
                            }
                        }
                    }
                    if r.pattern.is_empty() {
                        return Err(EsError::x_content_parse("Required [field]".to_string()));
                    }
                    out.push(r);
                }
                other => {
                    return Err(EsError::parsing(format!(
                        "Expected [VALUE_STRING] or [START_OBJECT] in [{key}] but found [{}]",
                        token_name(other)
                    )));
                }
            }
        }
        Ok(out)
    }
}

pub fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// `fields`: values from `_source`, as the mapper parses them.
    Fields,
    /// `docvalue_fields`: like doc values (sorted; keyword-like values de-duplicated).
    DocValues,
    /// `stored_fields`: only fields mapped with `store: true`.
    Stored,
}

fn is_pattern(p: &str) -> bool {
    p.contains('*')
}

/// Checks the requests against the mapping before any row is read (errors Elasticsearch raises on
/// the shard: doc values of text fields, nested fields, runtime fields).
pub fn validate(meta: &IndexMeta, reqs: &[FieldRequest], mode: Mode) -> Result<(), EsError> {
    for r in reqs {
        for f in matching(meta, r) {
            if f.nested_path.is_some() {
                return Err(EsError::unsupported(format!(
                    "[{}] on fields inside nested objects ([{}])",
                    mode_name(mode),
                    f.path
                )));
            }
            if f.runtime && mode == Mode::Stored && !is_pattern(&r.pattern) {
                return Err(EsError::unsupported(format!(
                    "[{}] on runtime field [{}]",
                    mode_name(mode),
                    f.path
                )));
            }
            if mode == Mode::DocValues && !f.aggregatable && !is_pattern(&r.pattern) {
                if f.es_type == "text" || f.es_type == "match_only_text" {
                    return Err(EsError::illegal_argument(format!(
                        "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.",
                        f.path
                    )));
                }
                return Err(EsError::illegal_argument(format!(
                    "Can't load fielddata on [{}] because fielddata is unsupported on fields of type [{}]. Use doc values instead.",
                    f.path, f.es_type
                )));
            }
        }
    }
    Ok(())
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Fields => "fields",
        Mode::DocValues => "docvalue_fields",
        Mode::Stored => "stored_fields",
    }
}

/// The runtime fields of the index that `reqs` ask for, with the format each was asked with
/// (their values are computed in SQL: `plan::runtime`).
pub fn runtime_requested(meta: &IndexMeta, reqs: &[FieldRequest]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for r in reqs {
        for name in meta.mappings.runtime.keys() {
            if (r.pattern == *name || (is_pattern(&r.pattern) && glob_match(&r.pattern, name)))
                && !out.iter().any(|(n, _)| n == name)
            {
                out.push((name.clone(), r.format.clone()));
            }
        }
    }
    out
}

/// A runtime field's value from its SQL column as `fields` shows it: dates (epoch millis from SQL)
/// formatted with the requested or the field's format, other types as they come.
pub fn runtime_value(v: &Value, es_type: &str, format: Option<&str>) -> Option<Value> {
    match (v, es_type) {
        (Value::Null, _) => None,
        (v, "date") => {
            let millis = match v {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.parse().ok()?,
                _ => return None,
            };
            let fmt = format.unwrap_or(crate::schema::dates::DEFAULT_DATE_FORMAT);
            Some(Value::String(crate::schema::dates::format_date(
                millis.saturating_mul(1_000_000),
                fmt,
                None,
            )))
        }
        (Value::String(s), "long") => s.parse::<i64>().ok().map(Value::from),
        (Value::String(s), "double") => s.parse::<f64>().ok().map(Value::from),
        // Java doubles always print a fraction (`15.0`).
        (Value::Number(n), "double") => n.as_f64().map(Value::from),
        (v, _) => Some(v.clone()),
    }
}

/// Mapped leaf fields a request names (object fields are skipped, as in Elasticsearch).
fn matching(meta: &IndexMeta, r: &FieldRequest) -> Vec<FieldInfo> {
    if !is_pattern(&r.pattern) {
        return meta.mappings.field(&r.pattern).into_iter().collect();
    }
    meta.mappings
        .leaf_fields()
        .into_iter()
        .filter(|f| glob_match(&r.pattern, &f.path))
        .collect()
}

/// Computes the values of `reqs` for one document into `out` (field path → values).
pub fn collect(
    meta: &IndexMeta,
    source: &Value,
    reqs: &[FieldRequest],
    mode: Mode,
    out: &mut BTreeMap<String, Vec<Value>>,
) {
    for r in reqs {
        let fields = matching(meta, r);
        for f in &fields {
            if f.runtime || f.nested_path.is_some() {
                continue;
            }
            if mode == Mode::Stored && f.mapping.store != Some(true) {
                continue;
            }
            if mode == Mode::DocValues && !f.aggregatable {
                continue;
            }
            let vals = field_values(meta, f, source, r.format.as_deref(), mode);
            if !vals.is_empty() {
                out.insert(f.path.clone(), vals);
            }
        }
        if mode == Mode::Fields && r.include_unmapped {
            let mut leaves = Vec::new();
            source_leaves(source, "", &mut leaves);
            for (path, vals) in leaves {
                if out.contains_key(&path) || !glob_match(&r.pattern, &path) {
                    continue;
                }
                if meta.mappings.field(&path).is_some() {
                    continue;
                }
                if !vals.is_empty() {
                    out.insert(path, vals);
                }
            }
        }
    }
}

/// Every leaf path of a source document with its values (arrays flattened, nulls dropped).
fn source_leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Vec<Value>)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                source_leaves(child, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                source_leaves(x, prefix, out);
            }
        }
        Value::Null => {}
        scalar => match out.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, vals)) => vals.push(scalar.clone()),
            None => out.push((prefix.to_string(), vec![scalar.clone()])),
        },
    }
}

/// Raw values at `path` in a source document: dotted keys and objects both work, arrays of objects
/// are walked, arrays of values flattened. `keep_pairs` keeps `[lon, lat]` arrays whole (geo_point).
pub fn values_at(v: &Value, path: &str, keep_pairs: bool, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == path {
                    push_flat(child, keep_pairs, out);
                } else if let Some(rest) = path.strip_prefix(k.as_str())
                    && let Some(rest) = rest.strip_prefix('.')
                {
                    values_at(child, rest, keep_pairs, out);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                values_at(x, path, keep_pairs, out);
            }
        }
        _ => {}
    }
}

fn push_flat(v: &Value, keep_pairs: bool, out: &mut Vec<Value>) {
    match v {
        Value::Array(a)
            if keep_pairs && (2..=3).contains(&a.len()) && a.iter().all(Value::is_number) =>
        {
            out.push(v.clone())
        }
        Value::Array(a) => {
            for x in a {
                push_flat(x, keep_pairs, out);
            }
        }
        other => out.push(other.clone()),
    }
}

/// The values of one mapped field for one document.
fn field_values(
    meta: &IndexMeta,
    f: &FieldInfo,
    source: &Value,
    format: Option<&str>,
    mode: Mode,
) -> Vec<Value> {
    if let Some(c) = &f.constant_value {
        return vec![Value::String(c.clone())];
    }
    // Where the values live in `_source`: the alias target, or the parent of a multi-field.
    let mut src_path = f.alias_of.clone().unwrap_or_else(|| f.path.clone());
    if f.alias_of.is_some()
        && let Some(target) = meta.mappings.field(&src_path)
        && let Some(parent) = target.multi_field_of
    {
        src_path = parent;
    }
    if let Some(parent) = &f.multi_field_of {
        src_path = parent.clone();
    }
    let geo = f.es_type == "geo_point";
    let mut raw = Vec::new();
    values_at(source, &src_path, geo, &mut raw);
    let mut vals: Vec<Value> = raw
        .into_iter()
        .map(|v| match v {
            Value::Null => f.null_value.clone().unwrap_or(Value::Null),
            v => v,
        })
        .filter(|v| !v.is_null())
        .filter_map(|v| convert(f, &v, format, mode))
        .collect();
    if mode == Mode::DocValues {
        sort_doc_values(f, &mut vals);
    }
    vals
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Shortest decimal form of a float as Java prints a `float` (0.1f → 0.1).
fn float_value(x: f64) -> Value {
    let f = x as f32;
    if !f.is_finite() {
        return Value::Null;
    }
    let text = format!("{f}");
    text.parse::<f64>()
        .ok()
        .and_then(|d| serde_json::Number::from_f64(d).map(Value::Number))
        .unwrap_or(Value::Null)
}

fn convert(f: &FieldInfo, v: &Value, format: Option<&str>, mode: Mode) -> Option<Value> {
    let text = || match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match f.es_type.as_str() {
        "keyword" | "wildcard" | "version" => {
            let s = text()?;
            match f.ignore_above {
                Some(n) if s.chars().count() as i64 > n => None,
                _ => Some(Value::String(s)),
            }
        }
        "text" | "match_only_text" | "search_as_you_type" => text().map(Value::String),
        "long" | "integer" | "short" | "byte" => {
            let x = as_f64(v)?;
            let (lo, hi) = match f.es_type.as_str() {
                "integer" => (i32::MIN as f64, i32::MAX as f64),
                "short" => (i16::MIN as f64, i16::MAX as f64),
                "byte" => (i8::MIN as f64, i8::MAX as f64),
                _ => (i64::MIN as f64, i64::MAX as f64),
            };
            if !(lo..=hi).contains(&x) {
                return None;
            }
            // Exact for integers written as integers; decimals are truncated (coerce).
            match v {
                Value::Number(n) if n.is_i64() => Some(json!(n.as_i64())),
                Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                    Some(json!(s.trim().parse::<i64>().ok()))
                }
                _ => Some(json!(x.trunc() as i64)),
            }
        }
        "unsigned_long" => match v {
            Value::Number(n) if n.is_u64() => Some(json!(n.as_u64())),
            _ => as_f64(v)
                .filter(|x| *x >= 0.0)
                .map(|x| json!(x.trunc() as u64)),
        },
        "double" => as_f64(v).and_then(|x| serde_json::Number::from_f64(x).map(Value::Number)),
        "float" | "half_float" => as_f64(v).map(float_value),
        "scaled_float" => {
            let x = as_f64(v)?;
            let factor = f.scaling_factor.unwrap_or(1.0);
            serde_json::Number::from_f64((x * factor).round() / factor).map(Value::Number)
        }
        "boolean" => match v {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::String(s) if s == "true" => Some(Value::Bool(true)),
            Value::String(s) if s == "false" || s.is_empty() => Some(Value::Bool(false)),
            _ => None,
        },
        "date" | "date_nanos" => {
            let field_format = f.format.as_deref().unwrap_or(dates::DEFAULT_DATE_FORMAT);
            let nanos = dates::parse_date_value(v, field_format).ok()?;
            let out_format = format.unwrap_or(field_format);
            Some(Value::String(dates::format_date(nanos, out_format, None)))
        }
        "ip" => {
            let s = text()?;
            let ip: std::net::IpAddr = s.trim().parse().ok()?;
            Some(Value::String(match ip {
                std::net::IpAddr::V6(a) => match a.to_ipv4_mapped() {
                    Some(v4) => v4.to_string(),
                    None => a.to_string(),
                },
                a => a.to_string(),
            }))
        }
        "geo_point" => {
            let (lat, lon) = geo_point(v)?;
            if mode == Mode::DocValues {
                Some(json!({"lat": lat, "lon": lon}))
            } else {
                Some(json!({"type": "Point", "coordinates": [lon, lat]}))
            }
        }
        _ => Some(v.clone()),
    }
}

fn geo_point(v: &Value) -> Option<(f64, f64)> {
    match v {
        Value::Object(m) => Some((
            m.get("lat").and_then(as_f64)?,
            m.get("lon").and_then(as_f64)?,
        )),
        Value::Array(a) => Some((a.get(1).and_then(Value::as_f64)?, a.first()?.as_f64()?)),
        Value::String(s) => {
            let (lat, lon) = s.split_once(',')?;
            Some((lat.trim().parse().ok()?, lon.trim().parse().ok()?))
        }
        _ => None,
    }
}

/// Doc values come out sorted; keyword-like (sorted set) values also de-duplicated.
fn sort_doc_values(f: &FieldInfo, vals: &mut Vec<Value>) {
    let numeric = vals.iter().all(Value::is_number);
    if numeric {
        vals.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .partial_cmp(&b.as_f64().unwrap_or(0.0))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        return;
    }
    if vals.iter().all(Value::is_string) {
        vals.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        if matches!(
            f.es_type.as_str(),
            "keyword" | "ip" | "wildcard" | "version"
        ) {
            vals.dedup();
        }
    }
}

/// Renders collected values as the hit's `fields` object.
pub fn to_json(fields: BTreeMap<String, Vec<Value>>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect::<Map<String, Value>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_dotted_keys_objects_and_arrays() {
        let src = json!({"a": {"b": [1, 2]}, "a.b": 3, "c": [{"d": "x"}, {"d": null}, {"d": "y"}]});
        let mut out = Vec::new();
        values_at(&src, "a.b", false, &mut out);
        assert_eq!(out, vec![json!(1), json!(2), json!(3)]);
        let mut out = Vec::new();
        values_at(&src, "c.d", false, &mut out);
        assert_eq!(out, vec![json!("x"), json!(null), json!("y")]);
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(float_value(0.1), json!(0.1));
        assert_eq!(float_value(1.0000001), json!(1.0000001));
    }
}
