//! Compound queries: constant_score, boosting, dis_max, nested.
//! (ConstantScoreQueryBuilder.java, BoostingQueryBuilder.java, DisMaxQueryBuilder.java,
//! NestedQueryBuilder.java; docs: query-dsl-constant-score-query.html,
//! query-dsl-boosting-query.html, query-dsl-dis-max-query.html, query-dsl-nested-query.html)

use super::{Query, boost_of, parse_query, unknown_field};
use crate::error::EsError;
use serde_json::{Map, Value};

/// The `constant_score` query: matches like `filter`, scores `boost`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantScore {
    pub filter: Query,
    pub boost: f64,
}

/// The `boosting` query: matches like `positive`; documents also matching `negative` have their
/// score multiplied by `negative_boost`.
#[derive(Debug, Clone, PartialEq)]
pub struct Boosting {
    pub positive: Query,
    pub negative: Query,
    pub negative_boost: f64,
    pub boost: f64,
}

/// The `dis_max` query: matches any clause; scores the best clause plus `tie_breaker` times the
/// others.
#[derive(Debug, Clone, PartialEq)]
pub struct DisMax {
    pub queries: Vec<Query>,
    pub tie_breaker: f64,
    pub boost: f64,
}

/// How the scores of matching nested objects combine (`score_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NestedScoreMode {
    #[default]
    Avg,
    Max,
    Min,
    Sum,
    None,
}

/// The `nested` query.
#[derive(Debug, Clone, PartialEq)]
pub struct Nested {
    pub path: String,
    pub query: Query,
    pub score_mode: NestedScoreMode,
    pub ignore_unmapped: bool,
    pub boost: f64,
    /// `inner_hits`: the matching nested objects returned with each hit.
    pub inner_hits: Option<NestedInnerHits>,
}

/// `inner_hits` of a nested query (inner-hits.html#nested-inner-hits): name (default: the path),
/// from, size (default 3), `_source` on/off; sorted by score.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedInnerHits {
    pub name: String,
    pub from: u64,
    pub size: u64,
    pub source: bool,
}

fn parse_nested_inner_hits(path: &str, v: &Value) -> Result<NestedInnerHits, EsError> {
    let o = object("inner_hits", v)?;
    let mut ih = NestedInnerHits {
        name: path.to_string(),
        from: 0,
        size: 3,
        source: true,
    };
    let count = |k: &str, v: &Value| {
        v.as_u64().ok_or_else(|| {
            EsError::x_content_parse(format!("[inner_hits] {k} must be a non-negative integer"))
        })
    };
    for (k, v) in o {
        match k.as_str() {
            "name" => {
                ih.name = v
                    .as_str()
                    .ok_or_else(|| EsError::x_content_parse("[inner_hits] name must be a string"))?
                    .to_string()
            }
            "from" => ih.from = count(k, v)?,
            "size" => ih.size = count(k, v)?,
            "_source" => match v {
                Value::Bool(b) => ih.source = *b,
                _ => {
                    return Err(EsError::unsupported(
                        "_source filtering in nested inner_hits",
                    ));
                }
            },
            "ignore_unmapped" => {}
            "sort"
            | "highlight"
            | "fields"
            | "docvalue_fields"
            | "stored_fields"
            | "script_fields"
            | "explain"
            | "version"
            | "seq_no_primary_term"
            | "track_scores"
            | "collapse" => {
                return Err(EsError::unsupported(format!("[{k}] in nested inner_hits")));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[inner_hits] unknown field [{other}]"
                )));
            }
        }
    }
    if ih.from.saturating_add(ih.size) > 100 {
        return Err(EsError::illegal_argument(format!(
            "Inner result window is too large, the inner hit definition's [{}]'s from + size must be less than or equal to: [100] but was [{}]. This limit can be set by changing the [index.max_inner_result_window] index level setting.",
            ih.name,
            ih.from.saturating_add(ih.size)
        )));
    }
    Ok(ih)
}

fn object<'a>(name: &str, body: &'a Value) -> Result<&'a Map<String, Value>, EsError> {
    body.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[{name}] query malformed, no start_object after query name"
        ))
    })
}

fn inner(name: &str, key: &str, v: &Value) -> Result<Query, EsError> {
    if !v.is_object() {
        return Err(EsError::parsing(format!(
            "[{name}] query does not support [{key}]"
        )));
    }
    parse_query(v)
}

fn number(name: &str, key: &str, v: &Value) -> Result<f64, EsError> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| EsError::parsing(format!("[{name}] failed to parse field [{key}]")))
}

fn boolean(name: &str, key: &str, v: &Value) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(EsError::parsing(format!(
            "[{name}] failed to parse field [{key}]"
        ))),
    }
}

pub fn parse_constant_score(body: &Value) -> Result<Query, EsError> {
    let o = object("constant_score", body)?;
    let mut filter = None;
    let mut boost = 1.0;
    for (k, v) in o {
        match k.as_str() {
            "filter" => filter = Some(inner("constant_score", k, v)?),
            "boost" => boost = boost_of(v, "constant_score")?,
            "_name" => {}
            other => return Err(unknown_field("constant_score", other)),
        }
    }
    let filter =
        filter.ok_or_else(|| EsError::parsing("[constant_score] requires a 'filter' element"))?;
    Ok(Query::ConstantScore(Box::new(ConstantScore {
        filter,
        boost,
    })))
}

pub fn parse_boosting(body: &Value) -> Result<Query, EsError> {
    let o = object("boosting", body)?;
    let (mut positive, mut negative, mut negative_boost) = (None, None, -1.0);
    let mut boost = 1.0;
    for (k, v) in o {
        match k.as_str() {
            "positive" => positive = Some(inner("boosting", k, v)?),
            "negative" => negative = Some(inner("boosting", k, v)?),
            "negative_boost" => negative_boost = number("boosting", k, v)?,
            "boost" => boost = boost_of(v, "boosting")?,
            "_name" => {}
            other => return Err(unknown_field("boosting", other)),
        }
    }
    // The wording, stray quote included, is BoostingQueryBuilder#fromXContent's.
    let positive = positive
        .ok_or_else(|| EsError::parsing("[boosting] query requires 'positive' query to be set'"))?;
    let negative = negative
        .ok_or_else(|| EsError::parsing("[boosting] query requires 'negative' query to be set'"))?;
    if negative_boost < 0.0 {
        return Err(EsError::parsing(
            "[boosting] query requires 'negative_boost' to be set to be a positive value'",
        ));
    }
    Ok(Query::Boosting(Box::new(Boosting {
        positive,
        negative,
        negative_boost,
        boost,
    })))
}

pub fn parse_dis_max(body: &Value) -> Result<Query, EsError> {
    let o = object("dis_max", body)?;
    let mut queries = Vec::new();
    let mut tie_breaker = 0.0;
    let mut boost = 1.0;
    for (k, v) in o {
        match k.as_str() {
            "queries" => match v {
                Value::Array(a) => {
                    for q in a {
                        queries.push(inner("dis_max", k, q)?);
                    }
                }
                Value::Object(_) => queries.push(parse_query(v)?),
                _ => return Err(unknown_field("dis_max", k)),
            },
            "tie_breaker" => tie_breaker = number("dis_max", k, v)?,
            "boost" => boost = boost_of(v, "dis_max")?,
            "_name" => {}
            other => return Err(unknown_field("dis_max", other)),
        }
    }
    if queries.is_empty() {
        return Err(EsError::parsing(
            "[dis_max] requires 'queries' field with at least one clause",
        ));
    }
    Ok(Query::DisMax(Box::new(DisMax {
        queries,
        tie_breaker,
        boost,
    })))
}

pub fn parse_nested(body: &Value) -> Result<Query, EsError> {
    let o = object("nested", body)?;
    let (mut path, mut query) = (None, None);
    let mut score_mode = NestedScoreMode::Avg;
    let mut ignore_unmapped = false;
    let mut boost = 1.0;
    let mut inner_hits_raw = None;
    for (k, v) in o {
        match k.as_str() {
            "path" => path = v.as_str().map(str::to_string),
            "query" => query = Some(inner("nested", k, v)?),
            "score_mode" => {
                let s = v.as_str().unwrap_or_default();
                score_mode = match s {
                    "avg" => NestedScoreMode::Avg,
                    "max" => NestedScoreMode::Max,
                    "min" => NestedScoreMode::Min,
                    "sum" | "total" => NestedScoreMode::Sum,
                    "none" => NestedScoreMode::None,
                    _ => {
                        return Err(EsError::illegal_argument(format!(
                            "No score mode for child query [{s}] found"
                        )));
                    }
                }
            }
            "ignore_unmapped" => ignore_unmapped = boolean("nested", k, v)?,
            "inner_hits" => inner_hits_raw = Some(v.clone()),
            "boost" => boost = boost_of(v, "nested")?,
            "_name" => {}
            other => return Err(unknown_field("nested", other)),
        }
    }
    let query = query.ok_or_else(|| EsError::parsing("[nested] requires 'query' field"))?;
    let path = path.ok_or_else(|| EsError::parsing("[nested] requires 'path' field"))?;
    let inner_hits = match &inner_hits_raw {
        Some(v) => Some(parse_nested_inner_hits(&path, v)?),
        None => None,
    };
    Ok(Query::Nested(Box::new(Nested {
        path,
        query,
        score_mode,
        ignore_unmapped,
        boost,
        inner_hits,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_each() {
        let q =
            parse_query(&json!({"constant_score": {"filter": {"term": {"a": 1}}, "boost": 1.5}}))
                .unwrap();
        assert!(matches!(q, Query::ConstantScore(c) if c.boost == 1.5));
        let q = parse_query(&json!({"dis_max": {"queries": [{"term": {"a": 1}}, {"term": {"b": 1}}], "tie_breaker": 0.7}})).unwrap();
        assert!(matches!(q, Query::DisMax(d) if d.queries.len() == 2 && d.tie_breaker == 0.7));
        let q = parse_query(
            &json!({"nested": {"path": "p", "query": {"match_all": {}}, "score_mode": "max"}}),
        )
        .unwrap();
        assert!(matches!(q, Query::Nested(n) if n.score_mode == NestedScoreMode::Max));
    }

    #[test]
    fn errors() {
        let e = |v: Value| parse_query(&v).unwrap_err();
        assert_eq!(
            e(json!({"constant_score": {"query": {"match_all": {}}}})).reason,
            "[constant_score] query does not support [query]"
        );
        assert_eq!(
            e(json!({"constant_score": {}})).reason,
            "[constant_score] requires a 'filter' element"
        );
        assert_eq!(
            e(json!({"boosting": {"positive": {"match_all": {}}, "negative": {"match_all": {}}}}))
                .reason,
            "[boosting] query requires 'negative_boost' to be set to be a positive value'"
        );
        assert_eq!(
            e(json!({"dis_max": {"queries": []}})).reason,
            "[dis_max] requires 'queries' field with at least one clause"
        );
        assert_eq!(
            e(json!({"nested": {"query": {"match_all": {}}}})).reason,
            "[nested] requires 'path' field"
        );
        let inner_hits = e(
            json!({"nested": {"path": "p", "query": {"match_all": {}}, "inner_hits": {"sort": []}}}),
        );
        assert_eq!(inner_hits.status, 400);
        assert!(inner_hits.unsupported_feature().is_some());
    }
}
