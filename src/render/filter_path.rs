//! `filter_path`: response filtering as Elasticsearch does it for every REST response
//! (docs: common-options.html#common-options-response-filtering; ES source: `FilterPath` and
//! `FilterPathBasedFilter` in libs/x-content).
//!
//! A comma-separated list of dotted paths. A segment may contain `*` (any characters within one
//! name), `**` stands for any number of levels, a leading `-` makes the path an exclusion. Arrays
//! are transparent. With inclusions, only what they match is kept (objects and arrays left empty
//! disappear); exclusions are applied afterwards and remove what they match.

use crate::catalog::glob_match;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct FilterPath {
    includes: Vec<Vec<String>>,
    excludes: Vec<Vec<String>>,
}

fn split_path(p: &str) -> Vec<String> {
    // `\.` escapes a dot inside a field name.
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '.' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    // `**.**` means what `**` means: one keeps the matching shallow and the tails few, whatever
    // the client repeats.
    out.dedup_by(|b, a| a == "**" && b == "**");
    out
}

impl FilterPath {
    /// Parses the parameter; `None` when it filters nothing.
    pub fn parse(param: &str) -> Option<FilterPath> {
        let mut f = FilterPath {
            includes: vec![],
            excludes: vec![],
        };
        for part in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part.strip_prefix('-') {
                Some(ex) if !ex.is_empty() => f.excludes.push(split_path(ex)),
                Some(_) => {}
                None => f.includes.push(split_path(part)),
            }
        }
        (!f.includes.is_empty() || !f.excludes.is_empty()).then_some(f)
    }

    pub fn apply(&self, v: Value) -> Value {
        let mut v = if self.includes.is_empty() {
            v
        } else {
            let filters: Vec<&[String]> = self.includes.iter().map(Vec::as_slice).collect();
            include(&v, &filters).unwrap_or(Value::Object(Map::new()))
        };
        if !self.excludes.is_empty() {
            let filters: Vec<&[String]> = self.excludes.iter().map(Vec::as_slice).collect();
            exclude(&mut v, &filters);
        }
        v
    }
}

/// What the filters say about key `k`: whether one matches it completely, and the remaining
/// filters for what lies below it.
fn step<'a>(filters: &[&'a [String]], k: &str) -> (bool, Vec<&'a [String]>) {
    let mut full = false;
    let mut tails: Vec<&'a [String]> = Vec::new();
    fn visit<'a>(f: &'a [String], k: &str, full: &mut bool, tails: &mut Vec<&'a [String]>) {
        let Some(first) = f.first() else { return };
        if first == "**" {
            if f.len() == 1 {
                *full = true;
                return;
            }
            // `**` matching zero levels here, and `**` going one level deeper.
            visit(&f[1..], k, full, tails);
            tails.push(f);
            return;
        }
        if glob_match(first, k) {
            if f.len() == 1 {
                *full = true;
            } else {
                tails.push(&f[1..]);
            }
        }
    }
    for f in filters {
        visit(f, k, &mut full, &mut tails);
    }
    // Tails are suffixes of the filters: the same one reached twice is kept once (else `**`
    // filters multiply them level after level).
    tails.sort_by_key(|t| (t.as_ptr() as usize, t.len()));
    tails.dedup_by(|a, b| std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len());
    (full, tails)
}

fn include(v: &Value, filters: &[&[String]]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let (full, tails) = step(filters, k);
                if full {
                    out.insert(k.clone(), child.clone());
                } else if !tails.is_empty()
                    && let Some(c) = include(child, &tails)
                {
                    out.insert(k.clone(), c);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let items: Vec<Value> = a.iter().filter_map(|x| include(x, filters)).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        // A scalar where the filter wants to go deeper: not matched.
        _ => None,
    }
}

fn exclude(v: &mut Value, filters: &[&[String]]) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let (full, tails) = step(filters, &k);
                if full {
                    m.shift_remove(&k);
                } else if !tails.is_empty()
                    && let Some(child) = m.get_mut(&k)
                {
                    exclude(child, &tails);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                exclude(x, filters);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(p: &str, v: Value) -> Value {
        FilterPath::parse(p).unwrap().apply(v)
    }

    #[test]
    fn hostile_filters_stay_cheap() {
        // Repeated `**` collapse; alternating `**` and names do not multiply the tails.
        let deep = vec!["**"; 100_000].join(".") + ".a";
        let v = serde_json::json!({"x": {"y": {"a": 1}}});
        assert_eq!(
            f(&deep, v.clone()),
            serde_json::json!({"x": {"y": {"a": 1}}})
        );
        let alternating = vec!["**.x"; 2_000].join(".");
        let mut nested = serde_json::json!(1);
        for _ in 0..60 {
            nested = serde_json::json!({ "x": nested });
        }
        let _ = f(&alternating, nested);
    }

    #[test]
    fn examples_from_the_docs() {
        // common-options.html#common-options-response-filtering
        let resp = json!({"took": 3, "hits": {"total": {"value": 2}, "hits": [
            {"_id": "1", "_score": 1.0, "_source": {"a": {"b": 1}, "c": 2}},
            {"_id": "2", "_score": 0.5, "_source": {"c": 3}}]}});
        assert_eq!(
            f("took,hits.hits._id,hits.hits._score", resp.clone()),
            json!({"took": 3, "hits": {"hits": [{"_id": "1", "_score": 1.0}, {"_id": "2", "_score": 0.5}]}})
        );
        assert_eq!(
            f("hits.hits._source.a.b", resp.clone()),
            json!({"hits": {"hits": [{"_source": {"a": {"b": 1}}}]}})
        );
        assert_eq!(
            f("**.b", resp.clone()),
            json!({"hits": {"hits": [{"_source": {"a": {"b": 1}}}]}})
        );
        assert_eq!(
            f("h*.total", resp.clone()),
            json!({"hits": {"total": {"value": 2}}})
        );
        assert_eq!(
            f("-hits.hits,-took", resp.clone()),
            json!({"hits": {"total": {"value": 2}}})
        );
        assert_eq!(f("nothing", resp.clone()), json!({}));
        assert_eq!(
            f("hits,-hits.hits._source", resp),
            json!({"hits": {"total": {"value": 2}, "hits": [{"_id": "1", "_score": 1.0}, {"_id": "2", "_score": 0.5}]}})
        );
    }
}
