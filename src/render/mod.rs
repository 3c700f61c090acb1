//! Rendering ClickHouse rows as Elasticsearch JSON: `_source` (exact bytes, or filtered), hits.

pub mod fields;
pub mod filter_path;
pub mod highlight;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Escapes text for HTML: the highlighter's `encoder: html`, and the debug UI's pages.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What `_source` to return (`_source`, `_source_includes`, `_source_excludes`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SourceFilter {
    #[default]
    All,
    None,
    Filter {
        includes: Vec<String>,
        excludes: Vec<String>,
    },
}

impl SourceFilter {
    /// From a search body's `_source` value: `true`/`false`, `"a.*"`, `["a","b"]`,
    /// `{"includes": [...], "excludes": [...]}` (also `include`/`exclude`).
    pub fn from_json(v: &Value) -> Result<SourceFilter, String> {
        fn list(v: &Value) -> Result<Vec<String>, String> {
            match v {
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| "expected a string".to_string())
                    })
                    .collect(),
                Value::Null => Ok(vec![]),
                _ => Err("[_source] expected a string or an array of strings".into()),
            }
        }
        match v {
            Value::Bool(true) => Ok(SourceFilter::All),
            Value::Bool(false) => Ok(SourceFilter::None),
            Value::String(_) | Value::Array(_) => Ok(SourceFilter::Filter {
                includes: list(v)?,
                excludes: vec![],
            }),
            Value::Object(m) => {
                let mut includes = vec![];
                let mut excludes = vec![];
                for (k, v) in m {
                    match k.as_str() {
                        "includes" | "include" => includes = list(v)?,
                        "excludes" | "exclude" => excludes = list(v)?,
                        other => {
                            return Err(format!(
                                "Unknown key for a START_ARRAY in [_source]: [{other}]."
                            ));
                        }
                    }
                }
                Ok(SourceFilter::Filter { includes, excludes })
            }
            _ => Err("[_source] must be a boolean, a string, an array or an object".into()),
        }
    }

    /// From URL parameters `_source`, `_source_includes`, `_source_excludes`.
    pub fn from_params(p: &std::collections::HashMap<String, String>) -> SourceFilter {
        let split = |s: &str| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let mut f = match p.get("_source").map(String::as_str) {
            Some("false") => return SourceFilter::None,
            Some("true") | Some("") | None => SourceFilter::All,
            Some(list) => SourceFilter::Filter {
                includes: split(list),
                excludes: vec![],
            },
        };
        let inc = p
            .get("_source_includes")
            .or(p.get("_source_include"))
            .map(|s| split(s));
        let exc = p
            .get("_source_excludes")
            .or(p.get("_source_exclude"))
            .map(|s| split(s));
        if inc.is_some() || exc.is_some() {
            let (mut i0, mut e0) = match f {
                SourceFilter::Filter { includes, excludes } => (includes, excludes),
                _ => (vec![], vec![]),
            };
            i0.extend(inc.unwrap_or_default());
            e0.extend(exc.unwrap_or_default());
            f = SourceFilter::Filter {
                includes: i0,
                excludes: e0,
            };
        }
        f
    }

    /// Applies the filter to stored source bytes. `None` = no `_source` in the answer.
    pub fn apply(&self, source: &str) -> Option<Box<RawValue>> {
        match self {
            SourceFilter::None => None,
            SourceFilter::All => RawValue::from_string(source.to_string()).ok(),
            SourceFilter::Filter { includes, excludes } => {
                if includes.is_empty() && excludes.is_empty() {
                    return RawValue::from_string(source.to_string()).ok();
                }
                let v: Value = serde_json::from_str(source).ok()?;
                let filtered =
                    filter_value(&v, "", includes, excludes).unwrap_or(Value::Object(Map::new()));
                RawValue::from_string(serde_json::to_string(&filtered).ok()?).ok()
            }
        }
    }
}

/// Wildcard match of a field path against a `_source` pattern (`*` anywhere).
fn pattern_match(pattern: &str, path: &str) -> bool {
    crate::catalog::glob_match(pattern, path)
}

/// Whether `path` could have descendants that match `pattern` (so an object must be kept/visited).
fn may_match_below(pattern: &str, path: &str) -> bool {
    let prefix = format!("{path}.");
    pattern.starts_with(&prefix) || pattern.starts_with('*') || {
        // `a*.b` may match below `ab`.
        let fixed: &str = pattern.split('*').next().unwrap_or("");
        pattern.contains('*') && (prefix.starts_with(fixed) || fixed.starts_with(&prefix))
    }
}

/// Source filtering with Elasticsearch's semantics (XContentMapValues#filter): a field is kept if its
/// path or an ancestor's path matches an include (or there are no includes) and neither it nor an
/// ancestor matches an exclude. Arrays of objects are filtered element-wise.
fn filter_value(v: &Value, path: &str, includes: &[String], excludes: &[String]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if excludes.iter().any(|e| pattern_match(e, &p)) {
                    continue;
                }
                let included = includes.is_empty() || includes.iter().any(|i| pattern_match(i, &p));
                if included {
                    if excludes.iter().any(|e| may_match_below(e, &p)) {
                        if let Some(c) = filter_value(child, &p, &[], excludes) {
                            out.insert(k.clone(), c);
                        }
                    } else {
                        out.insert(k.clone(), child.clone());
                    }
                } else if includes.iter().any(|i| may_match_below(i, &p))
                    && let Some(c) = filter_value(child, &p, includes, excludes)
                {
                    let keep = match &c {
                        Value::Object(o) => !o.is_empty(),
                        Value::Array(a) => !a.is_empty(),
                        _ => true,
                    };
                    if keep {
                        out.insert(k.clone(), c);
                    }
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(a) => {
            let items: Vec<Value> = a
                .iter()
                .filter_map(|x| match x {
                    Value::Object(_) | Value::Array(_) => filter_value(x, path, includes, excludes)
                        .filter(|c| !matches!(c, Value::Object(o) if o.is_empty())),
                    _ => None,
                })
                .collect();
            Some(Value::Array(items))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(inc: &[&str], exc: &[&str], src: &str) -> String {
        SourceFilter::Filter {
            includes: inc.iter().map(|s| s.to_string()).collect(),
            excludes: exc.iter().map(|s| s.to_string()).collect(),
        }
        .apply(src)
        .unwrap()
        .get()
        .to_string()
    }

    #[test]
    fn source_is_returned_byte_for_byte() {
        let src = "{ \"b\":1,  \"a\" : [1.50, \"x\"] }";
        assert_eq!(SourceFilter::All.apply(src).unwrap().get(), src);
        assert!(SourceFilter::None.apply(src).is_none());
    }

    #[test]
    fn includes_and_excludes_like_elasticsearch() {
        // Docs: search-fields.html#source-filtering.
        let src = r#"{"user":{"id":"1","name":"x"},"msg":"m","tags":[{"a":1,"b":2}]}"#;
        assert_eq!(
            f(&["user.*"], &[], src),
            r#"{"user":{"id":"1","name":"x"}}"#
        );
        assert_eq!(f(&["user"], &["user.name"], src), r#"{"user":{"id":"1"}}"#);
        assert_eq!(
            f(&[], &["user"], src),
            r#"{"msg":"m","tags":[{"a":1,"b":2}]}"#
        );
        assert_eq!(f(&["tags.a"], &[], src), r#"{"tags":[{"a":1}]}"#);
        assert_eq!(f(&["nothing"], &[], src), "{}");
        assert_eq!(f(&["*.id"], &[], src), r#"{"user":{"id":"1"}}"#);
    }
}
