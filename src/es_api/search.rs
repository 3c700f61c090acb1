//! `_search` and `_count`: request parsing and validation (body and URL parameters, with
//! Elasticsearch's errors), and execution.
//!
//! One index: one hits query (`ORDER BY … LIMIT`) and, when totals are tracked, one bounded count.
//! Several indices: the per-index selects are combined with UNION ALL, so it stays one hits query.
//! Scroll and point-in-time searches run through the same [`execute`] with a snapshot bound per
//! index and a `search_after`-style cursor (see `cursor.rs`, `scroll.rs`, `pit.rs`, docs/search.md).

use super::cursor::{self, PitState, ScrollState, SnapIndex};
use super::{ApiResult, Params, flag, parse_body};
use crate::catalog::{COL_ID, COL_SEQ_NO, COL_VERSION, IndexMeta, ResolveOptions};
use crate::dsl::{self, Query};
use crate::error::EsError;
use crate::plan::{self, Ctx, fields};
use crate::render::SourceFilter;
use crate::render::fields::{self as hit_fields, FieldRequest, token_name};
use crate::server::AppState;
use crate::sql::{self, Expr};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// `index.max_result_window` default.
pub const MAX_RESULT_WINDOW: u64 = 10_000;

/// The ordinal of an index is shifted this far in `_shard_doc` values: `ordinal << 48 | _seq_no`.
const SHARD_DOC_SHIFT: u64 = 1 << 48;

#[derive(Debug, Clone, PartialEq)]
pub enum TrackTotal {
    Exact,
    UpTo(u64),
    Off,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    Last,
    First,
    Value(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Score {
        desc: bool,
    },
    Doc {
        desc: bool,
    },
    /// `_shard_doc`: the point-in-time tie-breaker.
    ShardDoc {
        desc: bool,
    },
    Field {
        field: String,
        desc: bool,
        missing: Missing,
        unmapped_type: Option<String>,
        mode: Option<String>,
        /// `numeric_type`: long, double, date or date_nanos (values converted to it).
        numeric_type: Option<String>,
        /// `format`: a date format for the sort values of date fields.
        format: Option<String>,
        /// `nested`: sort by the values of the matching objects of a nested path.
        nested: Option<Box<NestedSort>>,
    },
}

/// The `nested` option of a field sort (sort-search-results.html#nested-sorting).
#[derive(Debug, Clone, PartialEq)]
pub struct NestedSort {
    pub path: String,
    pub filter: Option<Query>,
    /// `max_children`: only the first N matching objects of each document count.
    pub max_children: Option<u64>,
}

/// NestedSortBuilder#fromXContent: `path`, `filter`, `max_children`; a `nested` inside it
/// (objects nested in nested objects) is not supported yet.
fn parse_nested_sort(v: &Value) -> Result<NestedSort, EsError> {
    let Some(o) = v.as_object() else {
        return Err(EsError::parsing("[nested] nested sort must be an object"));
    };
    let mut path = None;
    let mut filter = None;
    let mut max_children = None;
    for (k, v) in o {
        match k.as_str() {
            "path" => path = v.as_str().map(str::to_string),
            "filter" => filter = Some(dsl::parse_query(v)?),
            "max_children" => {
                max_children = match v.as_u64() {
                    Some(n) if n > 0 => Some(n),
                    _ => {
                        return Err(EsError::illegal_argument(
                            "[max_children] must be a positive integer",
                        ));
                    }
                }
            }
            "nested" => {
                return Err(EsError::unsupported(
                    "sort nested inside nested (multi-level nested sort)",
                ));
            }
            other => {
                return Err(EsError::parsing(format!(
                    "[nested] unknown field [{other}]"
                )));
            }
        }
    }
    let Some(path) = path else {
        return Err(EsError::illegal_argument("[nested] requires 'path' field"));
    };
    Ok(NestedSort {
        path,
        filter,
        max_children,
    })
}

impl SortKey {
    fn desc(&self) -> bool {
        match self {
            SortKey::Score { desc }
            | SortKey::Doc { desc }
            | SortKey::ShardDoc { desc }
            | SortKey::Field { desc, .. } => *desc,
        }
    }
}

/// `stored_fields`.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredFields {
    /// `_none_`: no stored fields, no metadata (`_id`), no `_source`.
    Disabled,
    Names(Vec<String>),
}

/// One `collapse.inner_hits` definition (InnerHitBuilder): a search per group, with the original
/// query, the group's key as a filter, and its own from/size/sort/_source.
#[derive(Debug, Clone, PartialEq)]
pub struct InnerHitsSpec {
    pub name: String,
    pub from: u64,
    pub size: u64,
    pub sort: Vec<SortKey>,
    pub source: SourceFilter,
    pub version: bool,
    pub seq_no_primary_term: bool,
    pub track_scores: bool,
    pub fields: Vec<FieldRequest>,
    pub docvalue_fields: Vec<FieldRequest>,
    pub highlight: Option<crate::render::highlight::Highlight>,
}

/// `pit` of a search body.
#[derive(Debug, Clone, PartialEq)]
pub struct PitRef {
    pub id: String,
    pub keep_alive: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// `timeout`: the statements stop after it and the answer says `timed_out` (-1: none).
    pub timeout_ms: Option<u64>,
    pub query: Query,
    pub post_filter: Option<Query>,
    pub from: u64,
    pub size: u64,
    pub sort: Vec<SortKey>,
    pub source: SourceFilter,
    /// `_source` was given explicitly (it then wins over `stored_fields`).
    pub source_explicit: bool,
    pub track_total_hits: TrackTotal,
    pub track_total_explicit: bool,
    pub track_scores: bool,
    pub version: bool,
    pub seq_no_primary_term: bool,
    pub total_as_int: bool,
    pub search_after: Option<Vec<Value>>,
    pub fields: Vec<FieldRequest>,
    pub docvalue_fields: Vec<FieldRequest>,
    pub stored_fields: Option<StoredFields>,
    pub collapse: Option<String>,
    /// `collapse.inner_hits`: expanded groups (ExpandSearchPhase).
    pub collapse_inner: Vec<InnerHitsSpec>,
    pub terminate_after: Option<u64>,
    pub min_score: Option<f64>,
    pub pit: Option<PitRef>,
    /// `?scroll=` keep-alive in millis.
    pub scroll: Option<i64>,
    pub request_cache: Option<bool>,
    pub highlight: Option<crate::render::highlight::Highlight>,
    /// `aggs`/`aggregations` (see `crate::aggs`).
    pub aggs: Vec<crate::aggs::Agg>,
    /// `runtime_mappings`: definitions checked at parse time, translated per index
    /// (`plan::runtime`).
    pub runtime_mappings: Map<String, Value>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            timeout_ms: None,
            query: Query::MatchAll { boost: 1.0 },
            post_filter: None,
            from: 0,
            size: 10,
            sort: vec![],
            source: SourceFilter::All,
            source_explicit: false,
            track_total_hits: TrackTotal::UpTo(MAX_RESULT_WINDOW),
            track_total_explicit: false,
            track_scores: false,
            version: false,
            seq_no_primary_term: false,
            total_as_int: false,
            search_after: None,
            fields: vec![],
            docvalue_fields: vec![],
            stored_fields: None,
            collapse: None,
            collapse_inner: vec![],
            terminate_after: None,
            min_score: None,
            pit: None,
            scroll: None,
            request_cache: None,
            highlight: None,
            aggs: vec![],
            runtime_mappings: Map::new(),
        }
    }
}

/// Search-body keys that Elasticsearch has and elastichouse does not implement yet: a clear 400
/// unless the value is empty.
const UNSUPPORTED_KEYS: [&str; 7] = [
    "rescore",
    "suggest",
    "knn",
    "slice",
    "profile",
    "retriever",
    "rank",
];

/// Keys that must be empty (or false) for now.
const EMPTY_ONLY_KEYS: [&str; 2] = ["script_fields", "indices_boost"];

fn parse_sort_entry(v: &Value, out: &mut Vec<SortKey>) -> Result<(), EsError> {
    let order = |s: &str| -> Result<bool, EsError> {
        match s {
            "asc" => Ok(false),
            "desc" => Ok(true),
            o => Err(EsError::illegal_argument(format!(
                "Unknown SortOrder [{o}]"
            ))),
        }
    };
    let named = |f: &str, desc: Option<bool>| match f {
        "_score" => SortKey::Score {
            desc: desc.unwrap_or(true),
        },
        "_doc" => SortKey::Doc {
            desc: desc.unwrap_or(false),
        },
        "_shard_doc" => SortKey::ShardDoc {
            desc: desc.unwrap_or(false),
        },
        f => SortKey::Field {
            field: f.into(),
            desc: desc.unwrap_or(false),
            missing: Missing::Last,
            unmapped_type: None,
            mode: None,
            numeric_type: None,
            format: None,
            nested: None,
        },
    };
    match v {
        Value::String(f) => out.push(named(f, None)),
        Value::Object(m) => {
            for (field, spec) in m {
                let (mut desc, mut missing, mut unmapped, mut mode) =
                    (field == "_score", Missing::Last, None, None);
                let (mut numeric_type, mut format, mut nested) = (None, None, None);
                match spec {
                    Value::String(o) => desc = order(o)?,
                    Value::Object(o) => {
                        for (k, v) in o {
                            match k.as_str() {
                                "order" => desc = order(v.as_str().unwrap_or(""))?,
                                "missing" => {
                                    missing = match v.as_str() {
                                        Some("_last") => Missing::Last,
                                        Some("_first") => Missing::First,
                                        _ => Missing::Value(v.clone()),
                                    }
                                }
                                "unmapped_type" => unmapped = v.as_str().map(str::to_string),
                                "mode" => mode = v.as_str().map(str::to_string),
                                "numeric_type" => {
                                    // FieldSortBuilder#setNumericType.
                                    let t = v.as_str().unwrap_or_default().to_lowercase();
                                    if !matches!(
                                        t.as_str(),
                                        "long" | "double" | "date" | "date_nanos"
                                    ) {
                                        return Err(EsError::x_content_parse(
                                            "[field_sort] failed to parse field [numeric_type]",
                                        )
                                        .caused_by(EsError::illegal_argument(format!(
                                            "invalid value for [numeric_type], must be [long, double, date, date_nanos], got {t}"
                                        ))));
                                    }
                                    numeric_type = Some(t);
                                }
                                "format" => format = v.as_str().map(str::to_string),
                                "nested" => nested = Some(Box::new(parse_nested_sort(v)?)),
                                // Removed in 8.0 for `nested` (FieldSortBuilder).
                                "nested_path" | "nested_filter" => {
                                    return Err(EsError::parsing(format!(
                                        "[field_sort] unknown field [{k}]"
                                    )));
                                }
                                other => {
                                    return Err(EsError::parsing(format!(
                                        "[field_sort] unknown field [{other}]"
                                    )));
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(EsError::parsing(format!(
                            "[sort] malformed entry for [{field}]"
                        )));
                    }
                }
                out.push(match field.as_str() {
                    "_geo_distance" | "_script" => {
                        return Err(EsError::unsupported(format!("sort by [{field}]")));
                    }
                    "_score" | "_doc" | "_shard_doc" => named(field, Some(desc)),
                    f => SortKey::Field {
                        field: f.into(),
                        desc,
                        missing,
                        unmapped_type: unmapped,
                        mode,
                        numeric_type,
                        format,
                        nested,
                    },
                });
            }
        }
        Value::Array(a) => {
            for x in a {
                parse_sort_entry(x, out)?;
            }
        }
        _ => return Err(EsError::parsing("[sort] malformed")),
    }
    Ok(())
}

fn as_u64(v: &Value, name: &str) -> Result<u64, EsError> {
    match v {
        Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => Err(EsError::illegal_argument(
            format!("[{name}] parameter cannot be negative"),
        )),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| EsError::parsing(format!("[{name}] must be an integer"))),
        Value::String(s) => match s.parse::<i64>() {
            Ok(i) if i < 0 => Err(EsError::illegal_argument(format!(
                "[{name}] parameter cannot be negative"
            ))),
            Ok(i) => Ok(i as u64),
            Err(_) => Err(EsError::parsing(format!("[{name}] must be an integer"))),
        },
        _ => Err(EsError::parsing(format!("[{name}] must be an integer"))),
    }
}

fn as_bool(v: &Value, name: &str) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(EsError::parsing(format!(
            "[{name}] expected a boolean, found [{}]",
            token_name(other)
        ))),
    }
}

fn track_total(v: &Value) -> Result<TrackTotal, EsError> {
    match v {
        Value::Bool(true) => Ok(TrackTotal::Exact),
        Value::Bool(false) => Ok(TrackTotal::Off),
        Value::String(s) if s == "true" => Ok(TrackTotal::Exact),
        Value::String(s) if s == "false" => Ok(TrackTotal::Off),
        other => {
            let n = match other {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "[track_total_hits] must be a boolean or an integer, got [{other}]"
                ))
            })?;
            if n < -1 {
                return Err(EsError::illegal_argument(format!(
                    "[track_total_hits] parameter must be positive or equals to -1, got {n}"
                )));
            }
            Ok(if n == -1 || n == i32::MAX as i64 {
                TrackTotal::Exact
            } else {
                TrackTotal::UpTo(n as u64)
            })
        }
    }
}

/// URL parameters of `_search` (RestSearchAction and the indices options it reads), besides the
/// response parameters every endpoint accepts.
pub const SEARCH_PARAMS: &[&str] = &[
    // Kibana 8.1/8.2 sends it on every search; Elasticsearch 8 consumes it and does nothing
    // (RestSearchAction).
    "enable_fields_emulation",
    "q",
    "df",
    "analyzer",
    "analyze_wildcard",
    "default_operator",
    "lenient",
    "batched_reduce_size",
    "ccs_minimize_roundtrips",
    "search_type",
    "request_cache",
    "allow_partial_search_results",
    "pre_filter_shard_size",
    "max_concurrent_shard_requests",
    "preference",
    "routing",
    "scroll",
    "expand_wildcards",
    "ignore_unavailable",
    "allow_no_indices",
    "ignore_throttled",
    "explain",
    "from",
    "size",
    "sort",
    "_source",
    "_source_includes",
    "_source_excludes",
    "stored_fields",
    "docvalue_fields",
    "track_total_hits",
    "track_scores",
    "timeout",
    "terminate_after",
    "version",
    "seq_no_primary_term",
    "stats",
    "suggest_field",
    "suggest_mode",
    "suggest_size",
    "suggest_text",
    "typed_keys",
    "rest_total_hits_as_int",
    "include_named_queries_score",
    "force_synthetic_source",
    "min_compatible_shard_node",
    "source",
    "source_content_type",
];

/// Parameters every REST endpoint accepts (BaseRestHandler#responseParams + RestController).
pub const RESPONSE_PARAMS: &[&str] = &["pretty", "human", "error_trace", "filter_path"];

/// Lucene's LevenshteinDistance#getDistance: 1 - edits / max length (in characters), which is
/// strsim's normalised Levenshtein.
fn similarity(a: &str, b: &str) -> f32 {
    strsim::normalized_levenshtein(a, b) as f32
}

/// Elasticsearch's answer to URL parameters a handler does not know (BaseRestHandler#unrecognized):
/// `request [/idx/_search] contains unrecognized parameter: [foo] -> did you mean [from]?`.
pub fn check_params(path: &str, p: &Params, known: &[&str]) -> Result<(), EsError> {
    let mut invalid: Vec<&String> = p
        .keys()
        .filter(|k| !known.contains(&k.as_str()) && !RESPONSE_PARAMS.contains(&k.as_str()))
        .collect();
    if invalid.is_empty() {
        return Ok(());
    }
    invalid.sort();
    let mut msg = format!(
        "request [{path}] contains unrecognized parameter{}: ",
        if invalid.len() > 1 { "s" } else { "" }
    );
    for (i, bad) in invalid.iter().enumerate() {
        let mut scored: Vec<(f32, &str)> = known
            .iter()
            .map(|c| (similarity(bad, c), *c))
            .filter(|(d, _)| *d > 0.5)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        if i > 0 {
            msg.push_str(", ");
        }
        msg.push_str(&format!("[{bad}]"));
        match scored.len() {
            0 => {}
            1 => msg.push_str(&format!(" -> did you mean [{}]?", scored[0].1)),
            _ => {
                let names: Vec<&str> = scored.iter().map(|s| s.1).collect();
                msg.push_str(&format!(" -> did you mean any of [{}]?", names.join(", ")));
            }
        }
    }
    Err(EsError::illegal_argument(msg))
}

/// Checks the URL parameters that only need validating (accepted, no effect on one ClickHouse).
pub(crate) fn check_accepted_params(p: &Params) -> Result<(), EsError> {
    for name in [
        "request_cache",
        "allow_partial_search_results",
        "ccs_minimize_roundtrips",
        "typed_keys",
        "ignore_throttled",
        "include_named_queries_score",
        "rest_total_hits_as_int",
        "human",
        "error_trace",
        "ignore_unavailable",
        "allow_no_indices",
    ] {
        flag(p, name)?;
    }
    if flag(p, "force_synthetic_source")? {
        return Err(EsError::unsupported("[force_synthetic_source]"));
    }
    if let Some(t) = p.get("search_type") {
        match t.as_str() {
            "query_then_fetch" | "dfs_query_then_fetch" => {}
            other => {
                return Err(EsError::illegal_argument(format!(
                    "No search type for [{other}]"
                )));
            }
        }
    }
    let int_min = |name: &str, min: i64, msg: &str| -> Result<(), EsError> {
        if let Some(v) = p.get(name) {
            let n: i64 = v.parse().map_err(|_| {
                EsError::illegal_argument(format!(
                    "Failed to parse int parameter [{name}] with value [{v}]"
                ))
            })?;
            if n < min {
                return Err(EsError::illegal_argument(msg.to_string()));
            }
        }
        Ok(())
    };
    int_min("batched_reduce_size", 2, "batchedReduceSize must be >= 2")?;
    int_min(
        "max_concurrent_shard_requests",
        1,
        "maxConcurrentShardRequests must be >= 1",
    )?;
    int_min(
        "pre_filter_shard_size",
        1,
        "preFilterShardSize must be >= 1",
    )?;
    if let Some(v) = p.get("expand_wildcards") {
        for w in v.split(',') {
            if !matches!(w, "open" | "closed" | "hidden" | "none" | "all") {
                return Err(EsError::illegal_argument(format!(
                    "No enum constant org.elasticsearch.action.support.IndicesOptions.WildcardStates.{}",
                    w.to_uppercase()
                )));
            }
        }
    }
    for name in [
        "suggest_field",
        "suggest_text",
        "suggest_mode",
        "suggest_size",
    ] {
        if p.contains_key(name) {
            return Err(EsError::unsupported(format!("URL parameter [{name}]")));
        }
    }
    Ok(())
}

fn source_json(f: &SourceFilter) -> Value {
    match f {
        SourceFilter::All => json!(true),
        SourceFilter::None => json!(false),
        SourceFilter::Filter { includes, excludes } => {
            json!({"includes": includes, "excludes": excludes})
        }
    }
}

fn split_list(s: &str) -> Vec<Value> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| Value::String(x.to_string()))
        .collect()
}

/// Folds the URL parameters that shape the search into the body, as RestSearchAction does with
/// the SearchSourceBuilder (the URL wins). The result is what a scroll id stores.
pub fn fold_params(body: Option<Value>, p: &Params) -> Result<Value, EsError> {
    let mut b = match body {
        None => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(EsError::parsing("request body must be an object")),
    };
    if let Some(q) = p.get("q") {
        let mut qs = Map::new();
        qs.insert("query".into(), json!(q));
        if let Some(df) = p.get("df") {
            qs.insert("default_field".into(), json!(df));
        }
        if let Some(a) = p.get("analyzer") {
            qs.insert("analyzer".into(), json!(a));
        }
        if let Some(op) = p.get("default_operator") {
            qs.insert("default_operator".into(), json!(op));
        }
        for name in ["analyze_wildcard", "lenient"] {
            if p.contains_key(name) {
                qs.insert(name.into(), json!(flag(p, name)?));
            }
        }
        cursor::set_key(&mut b, "query", json!({ "query_string": qs }));
    }
    for name in ["from", "size", "terminate_after"] {
        if let Some(v) = p.get(name) {
            let n: i64 = v.parse().map_err(|_| {
                EsError::illegal_argument(format!(
                    "Failed to parse int parameter [{name}] with value [{v}]"
                ))
            })?;
            cursor::set_key(&mut b, name, json!(n));
        }
    }
    if let Some(v) = p.get("track_total_hits") {
        let v = if v.is_empty() { "true" } else { v };
        let val = match v {
            "true" => json!(true),
            "false" => json!(false),
            n => n
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or_else(|_| json!(n)),
        };
        cursor::set_key(&mut b, "track_total_hits", val);
    }
    for name in ["track_scores", "version", "seq_no_primary_term", "explain"] {
        if p.contains_key(name) {
            cursor::set_key(&mut b, name, json!(flag(p, name)?));
        }
    }
    if let Some(t) = p.get("timeout") {
        cursor::parse_time_value(t, "timeout")?;
        cursor::set_key(&mut b, "timeout", json!(t));
    }
    if let Some(s) = p.get("sort") {
        let mut sorts = Vec::new();
        for part in s.split(',').filter(|x| !x.is_empty()) {
            sorts.push(match part.rsplit_once(':') {
                Some((f, o)) => json!({ f: o }),
                None => json!(part),
            });
        }
        cursor::set_key(&mut b, "sort", Value::Array(sorts));
    }
    if p.contains_key("_source")
        || p.contains_key("_source_includes")
        || p.contains_key("_source_excludes")
    {
        cursor::set_key(
            &mut b,
            "_source",
            source_json(&SourceFilter::from_params(p)),
        );
    }
    if let Some(s) = p.get("stored_fields") {
        cursor::set_key(&mut b, "stored_fields", Value::Array(split_list(s)));
    }
    if let Some(s) = p.get("docvalue_fields") {
        cursor::set_key(&mut b, "docvalue_fields", Value::Array(split_list(s)));
    }
    if let Some(s) = p.get("stats") {
        cursor::set_key(&mut b, "stats", Value::Array(split_list(s)));
    }
    Ok(b)
}

/// Parses a (folded) search body. Errors are the parse errors Elasticsearch raises while reading
/// the body; cross-field checks are in [`validate`].
pub fn parse_body_value(body: &Value, p: &Params) -> Result<SearchRequest, EsError> {
    let mut r = SearchRequest::default();
    let Value::Object(m) = body else {
        return Err(EsError::parsing("request body must be an object"));
    };
    for (k, v) in m {
        match k.as_str() {
            "query" => r.query = dsl::parse_query(v)?,
            "post_filter" => r.post_filter = Some(dsl::parse_query(v)?),
            "from" => r.from = as_u64(v, "from")?,
            "size" => r.size = as_u64(v, "size")?,
            "sort" => {
                r.sort.clear();
                parse_sort_entry(v, &mut r.sort)?
            }
            "_source" => {
                r.source = SourceFilter::from_json(v).map_err(EsError::parsing)?;
                r.source_explicit = true;
            }
            "track_total_hits" => {
                r.track_total_hits = track_total(v)?;
                r.track_total_explicit = true;
            }
            "track_scores" => r.track_scores = as_bool(v, k)?,
            "version" => r.version = as_bool(v, k)?,
            "seq_no_primary_term" => r.seq_no_primary_term = as_bool(v, k)?,
            "explain" => {
                if as_bool(v, k)? {
                    return Err(EsError::unsupported("search request [explain]"));
                }
            }
            "timeout" => {
                let t = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let ms = cursor::parse_time_value(&t, "timeout")?;
                r.timeout_ms = (ms > 0).then_some(ms as u64);
            }
            "terminate_after" => {
                let n = as_u64(v, "terminate_after")?;
                r.terminate_after = (n > 0).then_some(n);
            }
            "min_score" => {
                r.min_score = Some(v.as_f64().ok_or_else(|| {
                    EsError::parsing(format!(
                        "[min_score] expected a number, found [{}]",
                        token_name(v)
                    ))
                })?)
            }
            "search_after" => match v {
                Value::Array(a) => r.search_after = Some(a.clone()),
                other => {
                    return Err(EsError::parsing(format!(
                        "Unknown key for a {} in [search_after].",
                        token_name(other)
                    )));
                }
            },
            "fields" => r.fields = FieldRequest::parse_list(v, "fields")?,
            "docvalue_fields" => {
                r.docvalue_fields = FieldRequest::parse_list(v, "docvalue_fields")?
            }
            "stored_fields" => {
                let names: Vec<String> = match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .map(|x| {
                            x.as_str().map(str::to_string).ok_or_else(|| {
                                EsError::parsing(
                                    "Expected [VALUE_STRING] in [stored_fields]".to_string(),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(EsError::parsing(format!(
                            "Expected [VALUE_STRING] or [START_ARRAY] in [stored_fields] but found [{}]",
                            token_name(other)
                        )));
                    }
                };
                r.stored_fields = Some(if names.iter().any(|n| n == "_none_") {
                    if names.len() > 1 {
                        return Err(EsError::illegal_argument(
                            "The field [_none_] cannot be used in combination with other fields",
                        ));
                    }
                    StoredFields::Disabled
                } else {
                    StoredFields::Names(names)
                });
            }
            "aggs" | "aggregations" => {
                r.aggs = crate::aggs::parse(v, chrono::Utc::now().timestamp_millis())?
            }
            "runtime_mappings" => {
                let Value::Object(m) = v else {
                    return Err(EsError::parsing(format!(
                        "Expected map for runtime_mappings but got a {}",
                        token_name(v)
                    )));
                };
                for (name, def) in m {
                    dsl::painless::parse_runtime_field(name, def)?;
                }
                r.runtime_mappings = m.clone();
            }
            "collapse" => {
                let (field, inner) = parse_collapse(v)?;
                r.collapse = Some(field);
                r.collapse_inner = inner;
            }
            "pit" => r.pit = Some(parse_pit(v)?),
            "stats" | "_name" | "ext" => {}
            "min_compatible_shard_node" => {}
            k if EMPTY_ONLY_KEYS.contains(&k) => {
                let empty = matches!(v, Value::Object(o) if o.is_empty())
                    || matches!(v, Value::Array(a) if a.is_empty());
                if !empty {
                    return Err(EsError::unsupported(format!("search request [{k}]")));
                }
            }
            "highlight" => r.highlight = Some(crate::render::highlight::Highlight::parse(v)?),
            k if UNSUPPORTED_KEYS.contains(&k) => {
                let empty = matches!(v, Value::Object(o) if o.is_empty())
                    || matches!(v, Value::Array(a) if a.is_empty());
                if !empty {
                    return Err(EsError::unsupported(format!("search request [{k}]")));
                }
            }
            other => {
                return Err(EsError::parsing(format!(
                    "Unknown key for a {} in [{other}].",
                    token_name(v)
                )));
            }
        }
    }
    if let Some(s) = p.get("scroll") {
        r.scroll = Some(cursor::parse_time_value(s, "scroll")?);
    }
    if p.contains_key("request_cache") {
        r.request_cache = Some(flag(p, "request_cache")?);
    }
    r.total_as_int = flag(p, "rest_total_hits_as_int")?;
    if r.total_as_int {
        match r.track_total_hits {
            TrackTotal::Exact => {}
            TrackTotal::UpTo(n) if r.track_total_explicit => {
                return Err(EsError::illegal_argument(format!(
                    "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {n}"
                )));
            }
            _ if !r.track_total_explicit => r.track_total_hits = TrackTotal::Exact,
            _ => {}
        }
    }
    Ok(r)
}

fn parse_inner_hits(v: &Value, field: &str) -> Result<InnerHitsSpec, EsError> {
    let Value::Object(m) = v else {
        return Err(EsError::parsing(format!(
            "Unknown key for a {} in [inner_hits].",
            token_name(v)
        )));
    };
    // InnerHitBuilder defaults: from 0, size 3, sorted by score.
    let mut spec = InnerHitsSpec {
        name: field.to_string(),
        from: 0,
        size: 3,
        sort: vec![],
        source: SourceFilter::All,
        version: false,
        seq_no_primary_term: false,
        track_scores: false,
        fields: vec![],
        docvalue_fields: vec![],
        highlight: None,
    };
    for (k, v) in m {
        match k.as_str() {
            "name" => {
                spec.name = v
                    .as_str()
                    .ok_or_else(|| EsError::x_content_parse("[inner_hits] name must be a string"))?
                    .to_string()
            }
            "from" => spec.from = as_u64(v, "from")?,
            "size" => spec.size = as_u64(v, "size")?,
            "sort" => parse_sort_entry(v, &mut spec.sort)?,
            "_source" => spec.source = SourceFilter::from_json(v).map_err(EsError::parsing)?,
            "version" => spec.version = as_bool(v, k)?,
            "seq_no_primary_term" => spec.seq_no_primary_term = as_bool(v, k)?,
            "track_scores" => spec.track_scores = as_bool(v, k)?,
            "fields" => spec.fields = FieldRequest::parse_list(v, "fields")?,
            "docvalue_fields" => {
                spec.docvalue_fields = FieldRequest::parse_list(v, "docvalue_fields")?
            }
            "highlight" => spec.highlight = Some(crate::render::highlight::Highlight::parse(v)?),
            "ignore_unmapped" => {
                as_bool(v, k)?;
            }
            "explain" if v == &Value::Bool(false) => {}
            "explain" | "script_fields" | "stored_fields" | "collapse" => {
                return Err(EsError::unsupported(format!(
                    "[collapse] [inner_hits] option [{k}]"
                )));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[inner_hits] unknown field [{other}]"
                )));
            }
        }
    }
    if spec.from.saturating_add(spec.size) > 100 {
        // index.max_inner_result_window (InnerHitsContext / SearchService#validateInnerHits).
        return Err(EsError::illegal_argument(format!(
            "Inner result window is too large, the inner hit definition's [{}]'s from + size must be less than or equal to: [100] but was [{}]. This limit can be set by changing the [index.max_inner_result_window] index level setting.",
            spec.name,
            spec.from + spec.size
        )));
    }
    Ok(spec)
}

fn parse_collapse(v: &Value) -> Result<(String, Vec<InnerHitsSpec>), EsError> {
    let Value::Object(m) = v else {
        return Err(EsError::parsing(format!(
            "Unknown key for a {} in [collapse].",
            token_name(v)
        )));
    };
    let mut field = None;
    let mut inner_raw = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "field" => field = v.as_str().map(str::to_string),
            "max_concurrent_group_searches" => {
                // Accepted: every group is expanded by one SQL query here.
                as_u64(v, "max_concurrent_group_searches")?;
            }
            "inner_hits" => match v {
                Value::Array(a) => inner_raw.extend(a.iter().cloned()),
                other => inner_raw.push(other.clone()),
            },
            "collapse" => return Err(EsError::unsupported("[collapse] on a second level")),
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[collapse] unknown field [{other}]"
                )));
            }
        }
    }
    let field = field.ok_or_else(|| EsError::x_content_parse("Required [field]"))?;
    let mut inner: Vec<InnerHitsSpec> = Vec::new();
    for v in &inner_raw {
        let spec = parse_inner_hits(v, &field)?;
        if inner.iter().any(|i| i.name == spec.name) {
            return Err(EsError::illegal_argument(format!(
                "[inner_hits] already contains an entry for key [{}]",
                spec.name
            )));
        }
        inner.push(spec);
    }
    Ok((field, inner))
}

fn parse_pit(v: &Value) -> Result<PitRef, EsError> {
    let Value::Object(m) = v else {
        return Err(EsError::parsing(format!(
            "Unknown key for a {} in [pit].",
            token_name(v)
        )));
    };
    let mut id = None;
    let mut keep_alive = None;
    for (k, v) in m {
        match k.as_str() {
            "id" => id = v.as_str().map(str::to_string),
            "keep_alive" => keep_alive = Some(cursor::time_value_json(v, "keep_alive")?),
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[pit] unknown field [{other}]"
                )));
            }
        }
    }
    Ok(PitRef {
        id: id.ok_or_else(|| EsError::x_content_parse("Required [id]"))?,
        keep_alive,
    })
}

/// SearchRequest#validate and SearchSourceBuilder#validate: every problem in one
/// `action_request_validation_exception`, numbered, before any index is resolved.
pub fn validate(r: &SearchRequest, index_in_path: bool, p: &Params) -> Result<(), EsError> {
    let mut errs: Vec<String> = Vec::new();
    let scroll = r.scroll.is_some();
    if scroll {
        if r.track_total_explicit && r.track_total_hits != TrackTotal::Exact {
            errs.push("disabling [track_total_hits] is not allowed in a scroll context".into());
        }
        if r.from > 0 {
            errs.push("using [from] is not allowed in a scroll context".into());
        }
        if r.size == 0 {
            errs.push("[size] cannot be [0] in a scroll context".into());
        }
        if r.search_after.as_ref().is_some_and(|a| !a.is_empty()) {
            errs.push("[search_after] cannot be used in a scroll context".into());
        }
        if r.collapse.is_some() {
            errs.push("cannot use `collapse` in a scroll context".into());
        }
    }
    if r.from > 0 && r.search_after.as_ref().is_some_and(|a| !a.is_empty()) {
        errs.push("[from] parameter must be set to 0 when [search_after] is used".into());
    }
    if let Some(StoredFields::Disabled) = r.stored_fields {
        if r.source_explicit && r.source != SourceFilter::None {
            errs.push("[stored_fields] cannot be disabled if [_source] is requested".into());
        }
        if !r.fields.is_empty() {
            errs.push("[stored_fields] cannot be disabled when using the [fields] option".into());
        }
    }
    if scroll && r.request_cache == Some(true) {
        errs.push("[request_cache] cannot be used in a scroll context".into());
    }
    if r.pit.is_some() {
        if scroll {
            errs.push("using [point in time] is not allowed in a scroll context".into());
        }
        if index_in_path {
            errs.push(
                "[indices] cannot be used with point in time. Do not specify any index with point in time."
                    .into(),
            );
        }
        if [
            "expand_wildcards",
            "ignore_unavailable",
            "allow_no_indices",
            "ignore_throttled",
        ]
        .iter()
        .any(|k| p.contains_key(*k))
        {
            errs.push("[indicesOptions] cannot be used with point in time".into());
        }
        if p.contains_key("routing") {
            errs.push("[routing] cannot be used with point in time".into());
        }
        if p.contains_key("preference") {
            errs.push("[preference] cannot be used with point in time".into());
        }
    } else if r.sort.iter().any(|k| matches!(k, SortKey::ShardDoc { .. })) {
        errs.push("[_shard_doc] sort field cannot be used without [point in time]".into());
    }
    if !errs.is_empty() {
        let mut msg = String::from("Validation Failed: ");
        for (i, e) in errs.iter().enumerate() {
            msg.push_str(&format!("{}: {e};", i + 1));
        }
        return Err(EsError::action_request_validation(msg));
    }
    Ok(())
}

/// DefaultSearchContext#preProcess, per shard (so per index, with that index's
/// `index.max_result_window`), with checked arithmetic: from + size against the window, and for a
/// scroll the batch size against the same setting.
fn check_result_window(meta: &IndexMeta, r: &SearchRequest) -> Result<(), EsError> {
    let max = crate::limits::index_setting(meta, "max_result_window", MAX_RESULT_WINDOW);
    let window = r.from.saturating_add(r.size);
    if window <= max {
        return Ok(());
    }
    let reason = if r.scroll.is_none() {
        format!(
            "Result window is too large, from + size must be less than or equal to: [{max}] but was [{window}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting."
        )
    } else {
        format!(
            "Batch size is too large, size must be less than or equal to: [{max}] but was [{window}]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting."
        )
    };
    Err(EsError::illegal_argument(reason))
}

/// Parses and validates a `_search` request from its body and URL parameters.
pub fn parse_request(
    body: Option<&Value>,
    p: &Params,
    index_in_path: bool,
) -> Result<(SearchRequest, Value), EsError> {
    let folded = fold_params(body.cloned(), p)?;
    let r = parse_body_value(&folded, p)?;
    validate(&r, index_in_path, p)?;
    Ok((r, folded))
}

/// Wraps a per-shard failure the way Elasticsearch reports a search whose every shard failed.
pub fn phase_failure(cause: EsError, index: Option<&IndexMeta>) -> EsError {
    let mut cause = cause;
    if let Some(m) = index {
        cause = cause
            .with("index_uuid", m.uuid.clone())
            .with("index", m.name.clone());
    }
    let status = cause.status;
    let shard = json!({"shard": 0, "index": index.map(|m| m.name.clone()), "node": "elastichouse", "reason": cause.body()});
    EsError::new(
        status,
        "search_phase_execution_exception",
        "all shards failed",
    )
    .with("phase", "query")
    .with("grouped", true)
    .with("failed_shards", json!([shard]))
    .caused_by(cause)
}

fn as_phase_failure(e: EsError, meta: &IndexMeta) -> EsError {
    if e.kind == "search_phase_execution_exception" || e.unsupported_feature().is_some() {
        e
    } else {
        phase_failure(e, Some(meta))
    }
}

/// How a sort key's values are typed, for rendering and for reading `search_after` values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SortType {
    /// Lucene LONG: integers, dates (millis), booleans, `_doc`, `_shard_doc`.
    Long,
    /// date_nanos.
    Nanos,
    /// Lucene FLOAT/DOUBLE, `_score`.
    Float,
    /// Strings (keyword, ip): missing values show as null.
    Str,
}

/// The `_shard_doc`-like tie-breaker of one index: `ordinal << 48 | _seq_no` (tables elastichouse
/// did not create have no `_seq_no`: a 48-bit hash of the row stands in).
fn shard_doc_expr(meta: &IndexMeta, ordinal: usize) -> Expr {
    let base = sql::lit(ordinal as u64 * SHARD_DOC_SHIFT);
    let local = if meta.managed {
        sql::col(COL_SEQ_NO)
    } else {
        Expr::func(
            "bitShiftRight",
            vec![Expr::func("sipHash64", vec![sql::star()]), sql::lit(16u64)],
        )
    };
    Expr::func("plus", vec![base, Expr::func("toUInt64", vec![local])])
}

/// The sort value expression of one key for one index, how its values are typed, and the date
/// format its values are shown with (`format` on a date sort).
fn sort_expr(
    ctx: &Ctx,
    key: &SortKey,
    score: &Expr,
    shard_doc: &Expr,
) -> Result<(Expr, SortType, Option<String>), EsError> {
    Ok(match key {
        SortKey::Score { .. } => (score.clone(), SortType::Float, None),
        SortKey::Doc { .. } | SortKey::ShardDoc { .. } => (shard_doc.clone(), SortType::Long, None),
        SortKey::Field {
            field,
            desc,
            missing,
            unmapped_type,
            mode,
            numeric_type,
            format,
            nested,
        } => {
            if nested.is_none() && fields::nested_sort_context_missing(ctx.meta, field) {
                return Err(phase_failure(
                    EsError::new(
                        400,
                        "query_shard_exception",
                        format!(
                            "it is mandatory to set the [nested] context on the nested sort field: [{field}]."
                        ),
                    ),
                    Some(ctx.meta),
                ));
            }
            let nested_values = match nested {
                Some(ns) => crate::plan::compound::nested_sort_values(
                    ctx,
                    &ns.path,
                    ns.filter.as_ref(),
                    ns.max_children,
                    field,
                )
                .map_err(|e| phase_failure(e, Some(ctx.meta)))?,
                None => None,
            };
            let nested_values_none = nested_values.is_none();
            let resolved = match &nested_values {
                Some((f, _)) => Some(f.clone()),
                None if nested.is_some() => None,
                None => fields::resolve(ctx.meta, field),
            };
            let Some(f) = resolved else {
                if unmapped_type.is_some() || fields::is_mapped(ctx.meta, field) {
                    let ty = unmapped_type
                        .as_deref()
                        .map(fields::EsKind::from_type)
                        .or_else(|| {
                            ctx.meta
                                .mappings
                                .field(field)
                                .map(|i| fields::EsKind::from_type(&i.es_type))
                        })
                        .map(sort_type_of)
                        .unwrap_or(SortType::Str);
                    return Ok((missing_sentinel(ty, *desc, missing), ty, None));
                }
                return Err(phase_failure(
                    EsError::new(
                        400,
                        "query_shard_exception",
                        format!("No mapping found for [{field}] in order to sort on"),
                    ),
                    Some(ctx.meta),
                ));
            };
            if f.kind == fields::EsKind::Text {
                return Err(phase_failure(
                    EsError::illegal_argument(format!(
                        "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                    )),
                    Some(ctx.meta),
                ));
            }
            let mut ty = sort_type_of(f.kind);
            let mut e = match nested_values {
                Some((_, values)) => values,
                None => f.column_expr(),
            };
            if f.is_array {
                // Multi-valued fields sort by their min (asc) or max (desc) by default.
                let fun = match mode.as_deref() {
                    Some("min") => "arrayMin",
                    Some("max") => "arrayMax",
                    Some("sum") => "arraySum",
                    Some("avg") => "arrayAvg",
                    Some("median") => return Err(EsError::unsupported("sort mode [median]")),
                    _ if *desc => "arrayMax",
                    _ => "arrayMin",
                };
                e = Expr::func(
                    "if",
                    vec![
                        Expr::func("empty", vec![e.clone()]),
                        sql::null(),
                        Expr::func(fun, vec![e]),
                    ],
                );
            }
            e = match f.kind {
                // Through DateTime64 so Date/DateTime columns of existing tables sort the same way.
                fields::EsKind::Date => Expr::func(
                    "toUnixTimestamp64Milli",
                    vec![Expr::func(
                        "toDateTime64",
                        vec![e, sql::lit(3u64), sql::lit("UTC")],
                    )],
                ),
                fields::EsKind::DateNanos => Expr::func(
                    "toUnixTimestamp64Nano",
                    vec![Expr::func(
                        "toDateTime64",
                        vec![e, sql::lit(9u64), sql::lit("UTC")],
                    )],
                ),
                fields::EsKind::Boolean => Expr::func("toUInt8", vec![e]),
                // Elasticsearch prints IPv4 addresses in dotted form: strip the mapping prefix.
                fields::EsKind::Ip => Expr::func(
                    "replaceRegexpOne",
                    vec![
                        Expr::func("toString", vec![e]),
                        sql::lit("^::ffff:([0-9.]+)$"),
                        sql::lit("\\1"),
                    ],
                ),
                k if k.is_integer() && k != fields::EsKind::UnsignedLong => {
                    Expr::func("toInt64", vec![e])
                }
                k if k.is_numeric() && k != fields::EsKind::UnsignedLong => {
                    Expr::func("toFloat64", vec![e])
                }
                _ => e,
            };
            if let Some(nt) = numeric_type {
                (e, ty) = numeric_sort_type(ctx, &f, e, nt)?;
            }
            // `format`: only date sort values are formatted (FieldSortBuilder#setFormat; other
            // field types refuse custom formats, numbers take DecimalFormat patterns).
            let is_date = matches!(f.kind, fields::EsKind::Date | fields::EsKind::DateNanos)
                || matches!(numeric_type.as_deref(), Some("date" | "date_nanos"));
            let shown_format = match format {
                None => None,
                Some(fmt) if is_date => Some(fmt.clone()),
                Some(_) if f.kind.is_numeric() => {
                    return Err(EsError::unsupported(format!(
                        "sort [format] on numeric field [{field}]"
                    )));
                }
                Some(_) => {
                    return Err(phase_failure(
                        EsError::illegal_argument(format!(
                            "Field [{field}] of type [{}] does not support custom formats",
                            f.es_type
                        )),
                        Some(ctx.meta),
                    ));
                }
            };
            // The first sort field of a log-native table that never stored a document without it
            // has no missing values: no `ifNull`, so the expression stays a monotonic function of
            // the sorting key and ClickHouse reads the table in order.
            let never_missing = nested_values_none
                && !f.is_array
                && !f.is_runtime()
                && ctx.meta.reads_sort_field_backwards(field);
            if never_missing {
                // Nothing to substitute.
            } else if let Missing::Value(v) = missing {
                let lit = match (ty, v) {
                    (SortType::Long | SortType::Nanos, Value::Number(n)) if n.is_i64() => {
                        sql::lit(n.as_i64().unwrap_or(0))
                    }
                    (SortType::Long | SortType::Nanos | SortType::Float, Value::Number(n)) => {
                        sql::lit(n.as_f64().unwrap_or(0.0))
                    }
                    (_, other) => sql::lit(
                        other
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| other.to_string()),
                    ),
                };
                e = Expr::func("ifNull", vec![e, lit]);
            } else if f.kind != fields::EsKind::UnsignedLong && ty != SortType::Str {
                // Missing numeric values sort as Long.MIN/MAX_VALUE or ±Infinity, and show so in
                // the hit's `sort` (IndexFieldData.XFieldComparatorSource#missingObject).
                e = Expr::func("ifNull", vec![e, missing_sentinel(ty, *desc, missing)]);
            }
            (e, ty, shown_format)
        }
    })
}

/// `numeric_type` (SortedNumericIndexFieldData#sortField with a target type): date ↔ date_nanos
/// values are converted between millis and nanos, `long` truncates floating values, `double`
/// widens integers; other combinations keep the values. Only numeric (and date, boolean) fields.
fn numeric_sort_type(
    ctx: &Ctx,
    f: &fields::Field,
    e: Expr,
    nt: &str,
) -> Result<(Expr, SortType), EsError> {
    use fields::EsKind as K;
    let numeric = f.kind.is_numeric() || matches!(f.kind, K::Date | K::DateNanos | K::Boolean);
    if !numeric {
        return Err(phase_failure(
            EsError::new(
                400,
                "query_shard_exception",
                format!(
                    "[numeric_type] option cannot be set on a non-numeric field, got {}",
                    f.es_type
                ),
            ),
            Some(ctx.meta),
        ));
    }
    let floating = f.kind.is_numeric() && !f.kind.is_integer();
    Ok(match nt {
        "date_nanos" if f.kind == K::Date => (
            Expr::func("multiply", vec![e, sql::lit(1_000_000i64)]),
            SortType::Nanos,
        ),
        "date" if f.kind == K::DateNanos => (
            Expr::func("intDiv", vec![e, sql::lit(1_000_000i64)]),
            SortType::Long,
        ),
        "date_nanos" if floating => (Expr::func("toInt64", vec![e]), SortType::Nanos),
        "date_nanos" => (e, SortType::Nanos),
        "long" | "date" if floating => (Expr::func("toInt64", vec![e]), SortType::Long),
        "long" | "date" => (e, SortType::Long),
        _ => (Expr::func("toFloat64", vec![e]), SortType::Float),
    })
}

fn sort_type_of(kind: fields::EsKind) -> SortType {
    use fields::EsKind as K;
    match kind {
        K::Date | K::Boolean => SortType::Long,
        K::DateNanos => SortType::Nanos,
        k if k.is_integer() => SortType::Long,
        k if k.is_numeric() => SortType::Float,
        _ => SortType::Str,
    }
}

/// The value a missing field sorts as: first or last depending on `missing` and the order.
fn missing_sentinel(ty: SortType, desc: bool, missing: &Missing) -> Expr {
    let first = matches!(missing, Missing::First);
    let min = first ^ desc;
    match ty {
        SortType::Long => sql::lit(if min { i64::MIN } else { i64::MAX }),
        // Nanosecond sorts use 0 (1970-01-01) as the smallest missing value, since negative
        // nanos cannot be formatted (IndexNumericFieldData, elastic/elasticsearch#74760).
        SortType::Nanos => sql::lit(if min { 0i64 } else { i64::MAX }),
        SortType::Float => Expr::func(
            "toFloat64",
            vec![sql::lit(if min { "-inf" } else { "inf" })],
        ),
        SortType::Str => sql::null(),
    }
}

/// A sort value from ClickHouse's JSON as Elasticsearch renders it; date sorts with a `format`
/// show formatted strings (DocValueFormat#enableFormatSortValues), missing values stay raw.
fn render_sort_value(v: &Value, ty: SortType, format: Option<&str>) -> Value {
    if let Some(fmt) = format
        && let Some(n) = v.as_i64()
        && n != i64::MAX
        && n != i64::MIN
    {
        let nanos = if ty == SortType::Nanos {
            n
        } else {
            n.saturating_mul(1_000_000)
        };
        return Value::String(crate::schema::dates::format_date(nanos, fmt, None));
    }
    match (v, ty) {
        (Value::String(s), SortType::Float) if s == "inf" || s == "+inf" => json!("Infinity"),
        (Value::String(s), SortType::Float) if s == "-inf" => json!("-Infinity"),
        (Value::String(s), SortType::Float) if s == "nan" => json!("NaN"),
        // Java doubles always print a fraction (`5.0`).
        (Value::Number(n), SortType::Float) => n.as_f64().map_or(Value::Null, Value::from),
        (v, _) => v.clone(),
    }
}

/// A `search_after` value as a literal of the key's type.
fn after_literal(
    ctx_meta: Option<&IndexMeta>,
    key: &SortKey,
    ty: SortType,
    v: &Value,
) -> Result<Option<Expr>, EsError> {
    let bad = || {
        EsError::illegal_argument(format!(
            "Failed to parse search_after value for field [{}].",
            match key {
                SortKey::Field { field, .. } => field.as_str(),
                SortKey::Score { .. } => "_score",
                SortKey::Doc { .. } => "_doc",
                SortKey::ShardDoc { .. } => "_shard_doc",
            }
        ))
    };
    Ok(Some(match (ty, v) {
        (_, Value::Null) => return Ok(None),
        (SortType::Long | SortType::Nanos, Value::Number(n)) => match n.as_i64() {
            Some(i) => sql::lit(i),
            None => sql::lit(n.as_u64().ok_or_else(bad)?),
        },
        (SortType::Long, Value::Bool(b)) => sql::lit(i64::from(*b)),
        (SortType::Long | SortType::Nanos, Value::String(s)) => {
            if let Ok(i) = s.parse::<i64>() {
                sql::lit(i)
            } else if s == "true" || s == "false" {
                sql::lit(i64::from(s == "true"))
            } else {
                // A date given as text: parsed with the field's format.
                let fmt = match (key, ctx_meta) {
                    (
                        SortKey::Field {
                            format: Some(f), ..
                        },
                        _,
                    ) => Some(f.clone()),
                    (SortKey::Field { field, .. }, Some(m)) => {
                        m.mappings.field(field).and_then(|f| f.format)
                    }
                    _ => None,
                }
                .unwrap_or_else(|| crate::schema::dates::DEFAULT_DATE_FORMAT.to_string());
                let nanos = crate::schema::dates::parse_date(s, &fmt).map_err(|_| bad())?;
                sql::lit(if ty == SortType::Nanos {
                    nanos
                } else {
                    nanos.div_euclid(1_000_000)
                })
            }
        }
        (SortType::Float, Value::Number(n)) => sql::lit(n.as_f64().ok_or_else(bad)?),
        (SortType::Float, Value::String(s)) => match s.as_str() {
            "Infinity" => Expr::func("toFloat64", vec![sql::lit("inf")]),
            "-Infinity" => Expr::func("toFloat64", vec![sql::lit("-inf")]),
            s => sql::lit(s.parse::<f64>().map_err(|_| bad())?),
        },
        (SortType::Str, Value::String(s)) => sql::lit(s.as_str()),
        (SortType::Str, Value::Number(n)) => sql::lit(n.to_string()),
        (SortType::Str, Value::Bool(b)) => sql::lit(b.to_string()),
        _ => return Err(bad()),
    }))
}

/// The rows strictly after `vals` in the order of `keys` (lexicographic, nulls where `missing`
/// puts them). Comparisons with NULL count as false.
fn after_condition(keys: &[(Expr, bool, bool, Option<Expr>)]) -> Expr {
    let f = |e: Expr| Expr::func("ifNull", vec![e, sql::lit(false)]);
    let mut ors = Vec::new();
    for i in 0..keys.len() {
        let mut and = Vec::new();
        for (col, _, _, lit) in &keys[..i] {
            and.push(match lit {
                None => col.clone().is_null(),
                Some(l) => f(col.clone().eq(l.clone())),
            });
        }
        let (col, desc, nulls_first, lit) = &keys[i];
        and.push(match lit {
            None if *nulls_first => col.clone().is_not_null(),
            None => sql::lit(false),
            Some(l) => {
                let cmp = if *desc {
                    col.clone().lt(l.clone())
                } else {
                    col.clone().gt(l.clone())
                };
                if *nulls_first {
                    f(cmp)
                } else {
                    f(cmp).or(col.clone().is_null())
                }
            }
        });
        ors.push(Expr::And(and));
    }
    Expr::Or(ors)
}

/// A hit as Elasticsearch renders it (field order matters for byte-level comparisons).
#[derive(Serialize)]
struct Hit {
    _index: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    _id: Option<String>,
    /// Nested inner hits: `{"field": path, "offset": n}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    _nested: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _seq_no: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _primary_term: Option<u64>,
    /// Scores are Java floats in Elasticsearch; f32 prints the same digits.
    _score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _source: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    highlight: Option<serde_json::Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sort: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inner_hits: Option<BTreeMap<String, InnerHits>>,
}

type GroupRow = (Value, u64, Option<f64>, Option<Hit>);

#[derive(Serialize)]
struct InnerHits {
    hits: Hits,
}

#[derive(Serialize)]
struct Hits {
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<Value>,
    max_score: Option<f32>,
    hits: Vec<Hit>,
}

#[derive(Serialize)]
struct SearchResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    _scroll_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pit_id: Option<&'a str>,
    took: u64,
    timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    terminated_early: Option<bool>,
    _shards: Value,
    hits: &'a Hits,
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregations: Option<&'a Value>,
}

fn shards(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

/// How a search runs beyond the request itself: snapshot bounds and cursors of scroll/PIT.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Per index (same order as the metas): only rows with `_seq_no` ≤ bound are visible.
    pub bounds: Vec<Option<u64>>,
    /// Scroll: continue after these internal sort values (sort keys + tie-breaker).
    pub scroll_after: Option<Vec<Value>>,
    /// Scroll: append the tie-breaker to the sort (not shown in hits).
    pub scroll: bool,
    /// Point in time: a `_shard_doc` tie-breaker may be added to the sort and shown.
    pub pit: bool,
    /// Total already known (scroll pages after the first).
    pub known_total: Option<u64>,
    /// Collapse inner hits: rows `from..from+size` of every collapse group (window functions
    /// instead of one global LIMIT), with each group's total and max score; no separate count.
    pub group: Option<(u64, u64)>,
}

/// The result of [`execute`], rendered by [`SearchOutcome::render`].
pub struct SearchOutcome {
    started: Instant,
    shards: usize,
    /// Failed shards (indices), as `_shards.failures` entries.
    shard_failures: Vec<Value>,
    hits: Hits,
    terminated_early: Option<bool>,
    /// Exact total hits (when computed).
    pub total: Option<u64>,
    /// Internal sort values of the last hit (scroll cursor).
    pub last_internal: Option<Vec<Value>>,
    pub hit_count: usize,
    aggregations: Option<Value>,
    /// Group mode ([`ExecOptions::group`]): per row, its group key, the group's total and max
    /// score, and the hit (`None` for a row outside from..from+size that only carries totals).
    groups: Vec<GroupRow>,
}

impl SearchOutcome {
    pub fn render(&self, scroll_id: Option<&str>, pit_id: Option<&str>) -> Result<String, EsError> {
        let resp = SearchResponse {
            _scroll_id: scroll_id,
            pit_id,
            took: self.started.elapsed().as_millis() as u64,
            timed_out: false,
            terminated_early: self.terminated_early,
            _shards: if self.shard_failures.is_empty() {
                shards(self.shards)
            } else {
                let failed = self.shard_failures.len();
                json!({"total": self.shards, "successful": self.shards - failed, "skipped": 0,
                       "failed": failed, "failures": self.shard_failures})
            },
            hits: &self.hits,
            aggregations: self.aggregations.as_ref(),
        };
        // RawValue keeps `_source` bytes; going through Value here would re-serialise them.
        serde_json::to_string(&resp).map_err(|e| EsError::storage(e.to_string()))
    }
}

/// Per index: the WHERE expression (query and post_filter) and the score expression. The one
/// place where query translation and scoring are called for a search.
fn index_plan(
    ctx: &Ctx,
    req: &SearchRequest,
    want_scores: bool,
) -> Result<(Expr, Expr, [Option<Expr>; 2]), EsError> {
    let (mut where_, score, stats, norms) =
        plan::filter_and_score(ctx.meta, ctx.now_millis, &req.query, want_scores)?;
    if let Some(pf) = &req.post_filter {
        // post_filter narrows the hits and the total (aggregations, when they exist, run
        // without it: search-request post-filter docs).
        where_ = where_.and(plan::filter(ctx, pf)?);
    }
    Ok((where_, score, [stats, norms]))
}

/// `SELECT *, <items> FROM <table> [FINAL]` to read from: values computed once per row and read by
/// name above it (selected beside the expressions that read them, ClickHouse evaluated them again
/// at each reference).
fn star_with(
    table: sql::FromClause,
    rows: sql::Rows,
    items: impl IntoIterator<Item = sql::SelectItem>,
) -> sql::FromClause {
    let mut inner = sql::Select::new().item(sql::star()).from(table).rows(rows);
    for item in items {
        inner = inner.item(item);
    }
    sql::FromClause::from(inner)
}

/// A `term` on a keyword field that holds one value per document: its BM25 score is the same for
/// every match (term frequency 1, keyword fields have no norms), so matches are in index order.
fn keyword_term_on_one_value(meta: &IndexMeta, q: &Query) -> bool {
    let Query::Term { field, .. } = q else {
        return false;
    };
    fields::resolve(meta, field)
        .is_some_and(|f| f.kind == fields::EsKind::Keyword && !f.is_array && !f.is_runtime())
}

/// The first sort field of a log-native table as epoch milliseconds, when it is a date column with
/// no missing value (so ordering by it reads the table forwards).
fn date_sort_key(meta: &IndexMeta) -> Option<Expr> {
    let field = meta.sort_fields.first()?;
    if !meta.reads_sort_field_backwards(field) {
        return None;
    }
    let ty = meta.columns.get(field)?;
    matches!(ty.base(), crate::sql::ChType::DateTime64(..)).then(|| {
        Expr::func(
            "toUnixTimestamp64Milli",
            vec![Expr::func(
                "toDateTime64",
                vec![sql::col(field.as_str()), sql::lit(3u64), sql::lit("UTC")],
            )],
        )
    })
}

/// The BM25 statistics of a scored search (plan::stats), as a literal: the statistics subquery
/// scans the scored columns of the whole index, so its answer is kept by the catalog until this
/// daemon writes to the index (or, for writes of other daemons, for [`crate::catalog::STATS_TTL`]).
/// Scores stay exactly Elasticsearch's: an index that did not change has the same statistics.
async fn cached_stats(
    s: &AppState,
    meta: &IndexMeta,
    stats: Option<Expr>,
) -> Result<Option<Expr>, EsError> {
    let Some(Expr::Subquery(q)) = stats else {
        return Ok(stats);
    };
    let key = q.to_string();
    if let Some(values) = s.catalog.cached_stats(&meta.name, &key) {
        return Ok(Some(stats_literal(&values)));
    }
    let generation = s.catalog.write_generation(&meta.name);
    let select = sql::Select::new().item(Expr::Subquery(q).alias("s"));
    let rows = s.ch.query_rows(&select).await?;
    let values: Vec<f64> = rows
        .first()
        .and_then(|r| r["s"].as_array())
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
        .unwrap_or_default();
    s.catalog
        .store_stats(&meta.name, key, generation, values.clone());
    Ok(Some(stats_literal(&values)))
}

fn stats_literal(values: &[f64]) -> Expr {
    Expr::func(
        "CAST",
        vec![
            Expr::Array(values.iter().map(|v| sql::lit(*v)).collect()),
            sql::lit("Array(Float64)"),
        ],
    )
}

/// The settings of a hits query whose per-index selects sort and limit (`per_index`), reading in
/// the table's order when `in_order`.
fn hits_settings(per_index: bool, in_order: bool) -> Vec<sql::Setting> {
    match (per_index, in_order) {
        (false, _) => vec![],
        // Reading in order with a tie-breaker: without this, ClickHouse merges the parts' ordered
        // streams in a way that reads far more granules than the LIMIT needs.
        (true, false) => vec![sql::Setting::new(
            "read_in_order_two_level_merge_threshold",
            0,
        )],
        // Reading backwards with a tie-breaker: one stream stops after the first granules;
        // several streams each read ahead (measured 6.7 ms vs 83 ms for the newest 10 of 1M
        // documents).
        (true, true) => vec![
            sql::Setting::new("read_in_order_two_level_merge_threshold", 0),
            sql::Setting::new("max_threads", 1),
        ],
    }
}

/// Runs a search over resolved indices.
pub async fn execute(
    s: &AppState,
    metas: &[Arc<IndexMeta>],
    req: &SearchRequest,
    opts: &ExecOptions,
) -> Result<SearchOutcome, EsError> {
    let started = Instant::now();
    let now_millis = chrono::Utc::now().timestamp_millis();
    // runtime_mappings join each index's runtime section; every runtime field the request uses
    // must translate, else the search answers the script's 400 (runtime-search-request.html).
    let with_runtime: Vec<Arc<IndexMeta>> = metas
        .iter()
        .map(|m| plan::runtime::with_runtime_mappings(m, &req.runtime_mappings))
        .collect();
    let metas = &with_runtime[..];
    let mentioned = format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
        req.query,
        req.post_filter,
        req.sort,
        req.aggs,
        req.fields,
        req.docvalue_fields,
        req.collapse
    );
    for meta in metas {
        for name in meta.mappings.runtime.keys() {
            if req.runtime_mappings.contains_key(name) || mentioned.contains(&format!("{name:?}")) {
                plan::runtime::resolve(meta, name).map_err(|e| as_phase_failure(e, meta))?;
            }
        }
    }
    // Nested queries with inner_hits: their matching objects computed in SQL as `_nih<k>`.
    let nested_ih = plan::compound::nested_with_inner_hits(&req.query);
    // Runtime fields asked for in `fields`/`docvalue_fields`: computed in SQL as `_rt<i>`.
    let mut runtime_out: Vec<(String, Option<String>)> = Vec::new();
    for meta in metas {
        for reqs in [&req.fields, &req.docvalue_fields] {
            for (name, fmt) in hit_fields::runtime_requested(meta, reqs) {
                if !runtime_out.iter().any(|(n, _)| *n == name) {
                    runtime_out.push((name, fmt));
                }
            }
        }
    }
    let sorted_by_score =
        req.sort.is_empty() || req.sort.iter().any(|k| matches!(k, SortKey::Score { .. }));
    let want_scores =
        req.sort.is_empty() || req.track_scores || sorted_by_score || req.min_score.is_some();
    // Default order (score descending) on the first page of a plain search: the first hit holds
    // the largest score, so the count query counts without scoring every matching row again.
    let first_hit_is_max = req.sort.is_empty()
        && req.from == 0
        && req.size > 0
        && req.search_after.is_none()
        && opts.scroll_after.is_none()
        && req.collapse.is_none()
        && req.terminate_after.is_none()
        && opts.group.is_none();
    let mut sort: Vec<SortKey> = if req.sort.is_empty() {
        vec![SortKey::Score { desc: true }]
    } else {
        req.sort.clone()
    };
    // SearchRequest#rewrite: a point-in-time search with an explicit sort gets `_shard_doc` as
    // implicit tie-breaker, shown in the hits' sort values.
    let mut shown = req.sort.len();
    if opts.pit
        && !req.sort.is_empty()
        && !matches!(req.sort.last(), Some(SortKey::ShardDoc { .. }))
        && req
            .search_after
            .as_ref()
            .is_none_or(|a| a.len() == req.sort.len() + 1)
    {
        sort.push(SortKey::ShardDoc { desc: false });
        shown += 1;
    }
    if let Some(after) = &req.search_after
        && after.len() != sort.len()
    {
        return Err(phase_failure(
            EsError::illegal_argument(format!(
                "search_after has {} value(s) but sort has {}.",
                after.len(),
                sort.len()
            )),
            metas.first().map(|m| m.as_ref()),
        ));
    }
    if let Some(c) = &req.collapse
        && req.search_after.is_some()
    {
        return Err(EsError::unsupported(format!(
            "[collapse] on [{c}] together with [search_after]"
        )));
    }
    let need_source = req.source != SourceFilter::None
        || metas.iter().any(|m| !m.mappings.runtime.is_empty())
        || req.highlight.is_some()
        || !req.fields.is_empty()
        || !req.docvalue_fields.is_empty()
        || matches!(&req.stored_fields, Some(StoredFields::Names(n)) if !n.is_empty());
    let source_filter = match (&req.stored_fields, req.source_explicit) {
        (Some(StoredFields::Disabled), _) => SourceFilter::None,
        (Some(StoredFields::Names(n)), false) if !n.iter().any(|x| x == "_source") => {
            SourceFilter::None
        }
        _ => req.source.clone(),
    };

    let mut selects = Vec::new();
    // The default order (score, then index order) when every score is the same constant (match_all,
    // constant_score and filter-only queries): Elasticsearch returns such hits in index order, and
    // here the index order of log-native tables sorted by a date is their sorting key, then the
    // sequence number. Read in that order, the first page costs a few granules, not a sort of every
    // matching row. (Cursors keep the sequence-number order their ids encode.)
    let mut index_order = req.sort.is_empty()
        && !opts.scroll
        && !opts.pit
        && opts.scroll_after.is_none()
        && req.search_after.is_none()
        && req.collapse.is_none()
        && opts.group.is_none()
        && req.terminate_after.is_none()
        && !metas.is_empty()
        && metas.iter().all(|m| date_sort_key(m).is_some());
    let mut counts = Vec::new();
    let mut types: Vec<SortType> = vec![SortType::Str; sort.len()];
    let mut formats: Vec<Option<String>> = vec![None; sort.len()];
    // Shard failures: an index whose planning fails (a sort on a field it does not map, …) is a
    // failed shard; the others still answer, as Elasticsearch's partial results do (the search
    // fails only when every shard failed).
    let mut failures: Vec<EsError> = Vec::new();
    let mut failed_idx = std::collections::HashSet::new();
    for (ordinal, meta) in metas.iter().enumerate() {
        let ctx = Ctx::new(meta, now_millis);
        let shard_doc = shard_doc_expr(meta, ordinal);
        let planned = (|| -> Result<_, EsError> {
            check_result_window(meta, req).map_err(|e| as_phase_failure(e, meta))?;
            let (where_, score, stats) =
                index_plan(&ctx, req, want_scores).map_err(|e| as_phase_failure(e, meta))?;
            hit_fields::validate(meta, &req.fields, hit_fields::Mode::Fields)
                .map_err(|e| as_phase_failure(e, meta))?;
            hit_fields::validate(meta, &req.docvalue_fields, hit_fields::Mode::DocValues)
                .map_err(|e| as_phase_failure(e, meta))?;
            let mut keys = Vec::new();
            for key in &sort {
                keys.push(sort_expr(&ctx, key, &score, &shard_doc)?);
            }
            let collapse = match &req.collapse {
                Some(c) => Some(collapse_expr(meta, c)?),
                None => None,
            };
            Ok((where_, score, stats, keys, collapse))
        })();
        let (mut where_, score, mut stats, keys, collapse) = match planned {
            Ok(p) => p,
            Err(e)
                if metas.len() > 1
                    && e.kind == "search_phase_execution_exception"
                    && opts.group.is_none() =>
            {
                failures.push(e);
                failed_idx.insert(ordinal);
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(Some(bound)) = opts.bounds.get(ordinal)
            && meta.managed
        {
            where_ = where_.and(sql::col(COL_SEQ_NO).lte(sql::lit(*bound)));
        }
        if let Some(min) = req.min_score {
            where_ = where_.and(Expr::func("toFloat64", vec![score.clone()]).gte(sql::lit(min)));
        }
        let from = sql::FromClause::table(s.catalog.db(), meta.table());
        let table_from = from.clone();
        let source_expr = if !need_source {
            sql::lit("{}")
        } else if meta.managed {
            // Stored bytes, or the document rebuilt from its columns (synthetic source).
            meta.source_expr()
        } else {
            Expr::func(
                "formatRowNoNewline",
                vec![sql::lit("JSONEachRow"), sql::star()],
            )
        };
        let mut items = if meta.managed {
            vec![
                sql::lit(meta.name.as_str()).alias("_index"),
                sql::col(COL_ID).alias("_id"),
                source_expr.alias("_source"),
                sql::col(COL_VERSION).alias("_version"),
                sql::col(COL_SEQ_NO).alias("_seq_no"),
            ]
        } else {
            // A table elastichouse did not create: `_source` is the row as JSON, `_id` a hash of the
            // row (identical rows share an id), no versions (docs/storage.md).
            let row_hash = Expr::func("sipHash128", vec![sql::star()]);
            vec![
                sql::lit(meta.name.as_str()).alias("_index"),
                Expr::func("lower", vec![Expr::func("hex", vec![row_hash])]).alias("_id"),
                source_expr.alias("_source"),
                sql::lit(1u64).alias("_version"),
                sql::lit(0u64).alias("_seq_no"),
            ]
        };
        stats[0] = cached_stats(s, meta, stats[0].take()).await?;
        if !matches!(score, Expr::Lit(_)) && !keyword_term_on_one_value(meta, &req.query) {
            index_order = false;
        }
        if let Some(k) = date_sort_key(meta).filter(|_| index_order) {
            items.push(k.alias("__k"));
        }
        items.push(Expr::func("toFloat64", vec![score.clone()]).alias("_score"));
        items.push(shard_doc.clone().alias("_tb"));
        // BM25 statistics: selected once, read by name (an empty array where no score needs
        // them, so every index of the UNION has the same columns).
        let [stats, norms] = stats;
        // The field lengths are computed once per row in a subquery: selected beside the score,
        // ClickHouse evaluated the whole array again for each term that reads it (half the time of
        // a many-term, many-field scored search). Tables elastichouse did not create keep the
        // plain form: their `_id` hashes `*`.
        let (from, rows, norms) = match norms {
            Some(n) if meta.managed => (
                star_with(from, meta.rows(), [n.alias(plan::stats::NORMS_ALIAS)]),
                sql::Rows::All,
                Some(sql::col(plan::stats::NORMS_ALIAS)),
            ),
            n => (from, meta.rows(), n),
        };
        let stats_items = [
            stats
                .unwrap_or_else(|| Expr::func("emptyArrayFloat64", vec![]))
                .alias(plan::stats::STATS_ALIAS),
            norms
                .unwrap_or_else(|| Expr::func("emptyArrayFloat64", vec![]))
                .alias(plan::stats::NORMS_ALIAS),
        ];
        items.extend(stats_items.iter().cloned());
        for (i, (e, ty, fmt)) in keys.into_iter().enumerate() {
            types[i] = ty;
            if fmt.is_some() {
                formats[i] = fmt;
            }
            items.push(e.alias(format!("__s{i}")));
        }
        if let Some(c) = collapse {
            items.push(c.alias("_collapse"));
        }
        for (k, n) in nested_ih.iter().enumerate() {
            let e = plan::compound::nested_inner_hits(&ctx, n)
                .map_err(|e| as_phase_failure(e, meta))?;
            items.push(e.alias(format!("_nih{k}")));
        }
        for (i, (name, _)) in runtime_out.iter().enumerate() {
            let e = match fields::resolve(meta, name) {
                Some(f) if f.is_runtime() => runtime_output(&f),
                _ => sql::null(),
            };
            items.push(e.alias(format!("_rt{i}")));
        }
        let mut select = sql::Select {
            items,
            from: Some(from.clone()),
            rows,
            where_: Some(where_.clone()),
            ..Default::default()
        };
        let count_items = if first_hit_is_max {
            vec![
                sql::lit(meta.name.as_str()).alias("__i"),
                sql::lit(0.0).alias("__sc"),
            ]
        } else {
            vec![
                // Names no column can have: ClickHouse resolves a name in WHERE to a select
                // alias before a column, and the WHERE holds the user's query.
                sql::lit(meta.name.as_str()).alias("__i"),
                Expr::func("toFloat64", vec![score]).alias("__sc"),
            ]
            .into_iter()
            .chain(stats_items)
            .collect()
        };
        // Without scores (the first page in score order takes max_score from its first hit) the
        // count reads the table itself, not the subquery that computes every row's field lengths.
        let (count_from, count_rows) = if first_hit_is_max && req.min_score.is_none() {
            (table_from, meta.rows())
        } else {
            (from, rows)
        };
        let mut count = sql::Select {
            items: count_items,
            from: Some(count_from),
            rows: count_rows,
            where_: Some(where_),
            ..Default::default()
        };
        if let Some(ta) = req.terminate_after {
            // terminate_after: each shard (index) collects its first N documents in index order.
            select.order_by = vec![sql::OrderBy::new(shard_doc.clone(), false)];
            select.limit = Some(ta);
            count.limit = Some(ta + 1);
        }
        selects.push(select);
        counts.push(count);
    }

    if !failures.is_empty() && failures.len() == metas.len() {
        // Every shard failed: one search_phase_execution_exception listing them all.
        let mut all = Vec::new();
        for f in &failures {
            if let Some(Value::Array(a)) = f.extra.get("failed_shards") {
                all.extend(a.iter().cloned());
            }
        }
        let mut first = failures.swap_remove(0);
        first
            .extra
            .insert("failed_shards".into(), Value::Array(all));
        return Err(first);
    }
    let shard_failures: Vec<Value> = failures
        .iter()
        .filter_map(|f| match f.extra.get("failed_shards") {
            Some(Value::Array(a)) => a.first().cloned(),
            _ => None,
        })
        .collect();

    // ORDER BY: the sort keys, then the tie-breaker (index, then indexing order), as Elasticsearch
    // breaks ties by shard and doc id.
    let mut order = Vec::new();
    for (i, key) in sort.iter().enumerate() {
        let nulls_first = matches!(
            key,
            SortKey::Field {
                missing: Missing::First,
                ..
            }
        );
        order.push(sql::OrderBy {
            expr: sql::col(format!("__s{i}")),
            desc: key.desc(),
            nulls_first: Some(nulls_first),
        });
    }
    order.push(sql::OrderBy::new(sql::col("_tb"), false));
    // A sort on the first sort field of log-native tables that never stored a document without it
    // reads the table in order and stops after the first rows. Descending: `DESC NULLS FIRST` is
    // the same order (there are no NULLs) and the one in which ClickHouse reads a nullable key
    // backwards.
    // Ascending with missing values last is the table's own order: read forwards.
    let reads_in_order = if let Some(SortKey::Field {
        field,
        desc,
        missing: Missing::Last,
        nested: None,
        mode: None,
        ..
    }) = sort.first()
        && metas.iter().all(|m| m.reads_sort_field_backwards(field))
    {
        if *desc {
            order[0].nulls_first = Some(true);
        }
        true
    } else {
        false
    };

    // Cursor: search_after (user) or the scroll position (internal, with the tie-breaker).
    let first_meta = metas.first().map(|m| m.as_ref());
    let mut after_where = None;
    if let Some(after) = &req.search_after {
        let mut keys = Vec::new();
        for (i, (key, v)) in sort.iter().zip(after).enumerate() {
            let lit = after_literal(first_meta, key, types[i], v)
                .map_err(|e| phase_failure(e, first_meta))?;
            let nulls_first = matches!(
                key,
                SortKey::Field {
                    missing: Missing::First,
                    ..
                }
            );
            keys.push((sql::col(format!("__s{i}")), key.desc(), nulls_first, lit));
        }
        after_where = Some(after_condition(&keys));
    }
    if let Some(after) = &opts.scroll_after {
        let mut keys = Vec::new();
        for (i, key) in sort.iter().enumerate() {
            let v = after.get(i).cloned().unwrap_or(Value::Null);
            let lit = after_literal(first_meta, key, types[i], &v)?;
            let nulls_first = matches!(
                key,
                SortKey::Field {
                    missing: Missing::First,
                    ..
                }
            );
            keys.push((sql::col(format!("__s{i}")), key.desc(), nulls_first, lit));
        }
        let tb = after.get(sort.len()).and_then(Value::as_u64).unwrap_or(0);
        keys.push((sql::col("_tb"), false, false, Some(sql::lit(tb))));
        let cond = after_condition(&keys);
        after_where = Some(match after_where {
            Some(w) => w.and(cond),
            None => cond,
        });
    }

    let mut hits = Vec::new();
    let mut groups = Vec::new();
    let mut collapse_keys = Vec::new();
    let mut last_internal = None;
    // One index's count select, for folding the count into its hits statement (below).
    let single_count = (counts.len() == 1).then(|| counts[0].clone());
    // The bounded count, built here so that it runs at the same time as the hits query (two
    // statements in flight instead of one after the other).
    let count_query = (opts.known_total.is_none()
        && (req.track_total_hits != TrackTotal::Off
            || (want_scores && sorted_by_score && !first_hit_is_max)
            || req.terminate_after.is_some())
        && !metas.is_empty()
        && opts.group.is_none())
    .then(|| {
        let limit = match (req.track_total_hits.clone(), req.terminate_after) {
            (_, Some(_)) => None,
            (TrackTotal::UpTo(n), None) => Some(n + 1),
            _ => None,
        };
        let inner = sql::Select {
            items: vec![sql::star().into()],
            from: Some(sql::FromClause::subquery(sql::union_all(counts), "c")),
            limit,
            ..Default::default()
        };
        sql::Select {
            items: vec![
                sql::col("__i").into(),
                Expr::func("count", vec![]).alias("n"),
                Expr::func("max", vec![sql::col("__sc")]).alias("m"),
            ],
            from: Some(sql::FromClause::subquery(inner, "t")),
            group_by: vec![sql::col("__i")],
            ..Default::default()
        }
    });
    // Aggregations: over the query only (post_filter narrows hits, not aggregations), every index
    // translated with its own mapping (docs/aggregations.md).
    let agg_sources = if req.aggs.is_empty() {
        None
    } else {
        let mut sources = Vec::new();
        for (ordinal, meta) in metas.iter().enumerate() {
            if failed_idx.contains(&ordinal) {
                continue;
            }
            let ctx = Ctx::new(meta, now_millis);
            let mut where_ =
                plan::search_filter(&ctx, &req.query).map_err(|e| as_phase_failure(e, meta))?;
            if let Some(Some(bound)) = opts.bounds.get(ordinal)
                && meta.managed
            {
                where_ = where_.and(sql::col(COL_SEQ_NO).lte(sql::lit(*bound)));
            }
            // The query's score, translated only when top_hits/top_metrics sort by `_score` (the
            // hits query already translated the same query, so this cannot fail where it did not).
            let table = sql::FromClause::table(s.catalog.db(), meta.table());
            let (score, stats, norms) = if crate::aggs::needs_score(&req.aggs) {
                let (_, score, stats, norms) =
                    plan::filter_and_score(meta, now_millis, &req.query, true)
                        .map_err(|e| as_phase_failure(e, meta))?;
                (score, stats, norms)
            } else {
                (sql::lit(0.0), None, None)
            };
            // A BM25 score reads the index statistics and field lengths from two selected
            // columns: then the aggregation reads a subquery that selects them beside `*`.
            let (from, rows) = if stats.is_none() && norms.is_none() {
                (table, meta.rows())
            } else {
                let items = stats
                    .map(|st| st.alias(plan::stats::STATS_ALIAS))
                    .into_iter()
                    .chain(norms.map(|n| n.alias(plan::stats::NORMS_ALIAS)));
                (star_with(table, meta.rows(), items), sql::Rows::All)
            };
            sources.push(crate::aggs::Source {
                meta: meta.clone(),
                from,
                rows,
                where_,
                score,
            });
        }
        Some(sources)
    };
    let mut aggregations = None;
    let mut count_rows = None;
    if (req.size > 0 || opts.group.is_some()) && !selects.is_empty() {
        // Top hits per index first: each index's select sorts and keeps its first from + size
        // rows (reading the table in order when the sort is its sorting key), so the union holds
        // at most that many rows per index, and `_source` is read for those alone.
        let per_index = opts.group.is_none()
            && req.collapse.is_none()
            && req.terminate_after.is_none()
            && req.from.checked_add(req.size).is_some();
        let mut selects = selects;
        if !index_order {
            // An index whose score was not constant turned it off after others added the key.
            for sel in &mut selects {
                sel.items
                    .retain(|i| i.alias.as_ref().is_none_or(|a| a.as_str() != "__k"));
            }
        }
        if index_order && per_index {
            // Scores are one constant: the sort key, then the tie-breaker.
            let key = sql::OrderBy::new(sql::col("__k"), false).nulls_last();
            order.insert(1, key.clone());
            for sel in &mut selects {
                sel.order_by = vec![key.clone(), sql::OrderBy::new(sql::col("_tb"), false)];
                sel.limit = Some(req.from + req.size);
            }
        } else if per_index {
            for sel in &mut selects {
                sel.order_by = order.clone();
                sel.limit = Some(req.from + req.size);
                if let Some(w) = &after_where {
                    sel.where_ = Some(match sel.where_.take() {
                        Some(prev) => prev.and(w.clone()),
                        None => w.clone(),
                    });
                }
            }
        }
        // One index whose select already sorts and limits like the outer query would: that
        // select is the query (the wrapper costs ClickHouse a second sort and about a third of
        // a small search's time).
        let single = (per_index && opts.group.is_none() && selects.len() == 1)
            .then(|| selects.pop())
            .flatten();
        let union = sql::FromClause::subquery(sql::union_all(selects), "hits");
        // One index, a bounded total and no maximum score to take from the count: the count
        // is a scalar subquery of the hits statement (one statement instead of two; the engine's
        // fixed cost per statement is most of a small search's). Unbounded counts stay a
        // statement of their own, which may use every core.
        let fold_count = single.is_some()
            && matches!(req.track_total_hits, TrackTotal::UpTo(_))
            && req.terminate_after.is_none()
            && !(want_scores && sorted_by_score && !first_hit_is_max);
        let folded_count = match (&count_query, &single_count, &req.track_total_hits) {
            (Some(_), Some(one), TrackTotal::UpTo(k)) if fold_count => {
                let mut bounded = one.clone();
                bounded.limit = Some(k + 1);
                Some(sql::Select {
                    items: vec![Expr::func("count", vec![]).into()],
                    from: Some(sql::FromClause::subquery(bounded, "c")),
                    ..Default::default()
                })
            }
            _ => None,
        };
        let q = if let Some(mut only) = single {
            if let Some(count) = &folded_count {
                only.items
                    .push(sql::subquery(count.clone()).alias("__total"));
            }
            // The empty BM25 arrays keep the columns of a UNION alike; alone, nothing reads them
            // (about a tenth of a small search's engine time).
            let placeholder = Expr::func("emptyArrayFloat64", vec![]);
            only.items.retain(|i| {
                !(i.expr == placeholder
                    && i.alias.as_ref().is_some_and(|a| {
                        a.as_str() == plan::stats::STATS_ALIAS
                            || a.as_str() == plan::stats::NORMS_ALIAS
                    }))
            });
            only.limit = Some(req.size);
            only.offset = (req.from > 0).then_some(req.from);
            // (A search_after condition is already in its WHERE: index order excludes cursors.)
            only.settings = hits_settings(true, reads_in_order || index_order);
            only
        } else if let Some((gfrom, gsize)) = opts.group {
            // Every group's rows from..from+size in one query: row_number() per collapse key in
            // the inner sort order, plus the group's total and max score (the first row is kept
            // even when outside the window, to carry them).
            let part = || sql::Window {
                partition_by: vec![sql::col("_collapse")],
                order_by: vec![],
            };
            let numbered = sql::Select {
                items: vec![
                    sql::star().into(),
                    Expr::func("row_number", vec![])
                        .over(sql::Window {
                            partition_by: vec![sql::col("_collapse")],
                            order_by: order.clone(),
                        })
                        .alias("_rn"),
                    Expr::func("count", vec![]).over(part()).alias("_gn"),
                    Expr::func("max", vec![sql::col("_score")])
                        .over(part())
                        .alias("_gm"),
                ],
                from: Some(union),
                where_: after_where,
                ..Default::default()
            };
            let rn = sql::col("_rn");
            sql::Select {
                items: vec![sql::star().into()],
                from: Some(sql::FromClause::subquery(numbered, "g")),
                where_: Some(
                    rn.clone().eq(sql::lit(1u64)).or(rn
                        .clone()
                        .gt(sql::lit(gfrom))
                        .and(rn.clone().lte(sql::lit(gfrom + gsize)))),
                ),
                order_by: vec![sql::OrderBy::new(sql::col("_collapse"), false), rn.asc()],
                ..Default::default()
            }
        } else {
            sql::Select {
                items: vec![sql::star().into()],
                from: Some(union),
                where_: after_where,
                order_by: order,
                limit_by: req.collapse.as_ref().map(|_| sql::LimitBy {
                    limit: 1,
                    by: vec![sql::col("_collapse")],
                }),
                limit: Some(req.size),
                offset: (req.from > 0).then_some(req.from),
                settings: hits_settings(per_index, reads_in_order || (index_order && per_index)),
                ..Default::default()
            }
        };
        // Hits, count and aggregations at the same time.
        let count = async {
            match &count_query {
                Some(cq) if folded_count.is_none() => s.ch.query_rows(cq).await.map(Some),
                _ => Ok(None),
            }
        };
        let aggs = async {
            match &agg_sources {
                Some(sources) if opts.group.is_none() => {
                    crate::aggs::execute(&s.ch, sources, &req.aggs, now_millis)
                        .await
                        .map(Some)
                }
                _ => Ok(None),
            }
        };
        let (rows, counted, aggregated) = futures::join!(s.ch.query_rows(&q), count, aggs);
        let rows = rows?;
        count_rows = counted?;
        if folded_count.is_some() {
            count_rows = match rows.first() {
                Some(r) => Some(vec![
                    json!({"n": r.get("__total").cloned().unwrap_or(json!(0)),
                    "m": null})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ]),
                // No hit on the first page: no match at all. Past it, the count runs alone.
                None if req.from == 0 => Some(vec![]),
                None => None,
            };
        }
        aggregations = aggregated?.map(Some);
        for r in &rows {
            if let Some((gfrom, gsize)) = opts.group {
                let key = r.get("_collapse").cloned().unwrap_or(Value::Null);
                groups.push((
                    key,
                    r["_gn"].as_u64().unwrap_or(0),
                    r.get("_gm").and_then(Value::as_f64),
                ));
                let rn = r["_rn"].as_u64().unwrap_or(0);
                if rn <= gfrom || rn > gfrom + gsize {
                    // Carrier row of the group's totals only.
                    hits.push(None);
                    continue;
                }
            } else if req.collapse.is_some() {
                collapse_keys.push(r.get("_collapse").cloned().unwrap_or(Value::Null));
            }
            let index = r["_index"].as_str().unwrap_or_default().to_string();
            let meta = metas.iter().find(|m| m.name == index);
            let src = r.get("_source").and_then(Value::as_str).unwrap_or("{}");
            let score = r.get("_score").and_then(Value::as_f64);
            let mut doc_fields = BTreeMap::new();
            if let Some(meta) = meta
                && (!req.fields.is_empty()
                    || !req.docvalue_fields.is_empty()
                    || matches!(&req.stored_fields, Some(StoredFields::Names(n)) if !n.is_empty()))
            {
                let parsed: Value = serde_json::from_str(src).unwrap_or(Value::Null);
                if let Some(StoredFields::Names(names)) = &req.stored_fields {
                    let reqs: Vec<FieldRequest> = names
                        .iter()
                        .filter(|n| n.as_str() != "_source")
                        .map(|n| FieldRequest {
                            pattern: n.clone(),
                            format: None,
                            include_unmapped: false,
                        })
                        .collect();
                    hit_fields::collect(
                        meta,
                        &parsed,
                        &reqs,
                        hit_fields::Mode::Stored,
                        &mut doc_fields,
                    );
                }
                hit_fields::collect(
                    meta,
                    &parsed,
                    &req.docvalue_fields,
                    hit_fields::Mode::DocValues,
                    &mut doc_fields,
                );
                hit_fields::collect(
                    meta,
                    &parsed,
                    &req.fields,
                    hit_fields::Mode::Fields,
                    &mut doc_fields,
                );
            }
            for (i, (name, fmt)) in runtime_out.iter().enumerate() {
                let es_type = meta
                    .and_then(|m| m.mappings.runtime.get(name))
                    .and_then(|d| d.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("keyword");
                let field_fmt = meta
                    .and_then(|m| m.mappings.runtime.get(name))
                    .and_then(|d| d.get("format"))
                    .and_then(Value::as_str);
                if let Some(v) = r.get(&format!("_rt{i}")).and_then(|v| {
                    hit_fields::runtime_value(v, es_type, fmt.as_deref().or(field_fmt))
                }) {
                    doc_fields.insert(name.clone(), vec![v]);
                }
            }
            if let Some(c) = &req.collapse
                && opts.group.is_none()
            {
                doc_fields.insert(
                    c.clone(),
                    vec![r.get("_collapse").cloned().unwrap_or(Value::Null)],
                );
            }
            let internal: Vec<Value> = sort
                .iter()
                .enumerate()
                .map(|(i, _)| r.get(&format!("__s{i}")).cloned().unwrap_or(Value::Null))
                .chain(std::iter::once(
                    r.get("_tb").cloned().unwrap_or(Value::Null),
                ))
                .collect();
            let disabled = matches!(req.stored_fields, Some(StoredFields::Disabled));
            let nested_inner = nested_inner_hits_of(r, &nested_ih, &index, src, req.total_as_int);
            hits.push(Some(Hit {
                _index: index,
                _id: (!disabled).then(|| r["_id"].as_str().unwrap_or_default().to_string()),
                _nested: None,
                _version: (req.version && !disabled).then(|| r["_version"].as_u64().unwrap_or(1)),
                _seq_no: req
                    .seq_no_primary_term
                    .then(|| r["_seq_no"].as_u64().unwrap_or(0)),
                _primary_term: req.seq_no_primary_term.then_some(1),
                _score: if want_scores {
                    score.map(|x| x as f32)
                } else {
                    None
                },
                _source: if meta.is_none_or(|m| m.source_shown()) {
                    source_filter.apply(src)
                } else {
                    None
                },
                fields: (!doc_fields.is_empty()).then(|| hit_fields::to_json(doc_fields)),
                highlight: match (&req.highlight, meta) {
                    (Some(h), Some(meta)) => {
                        crate::render::highlight::highlight_hit(h, &req.query, meta, src)
                    }
                    _ => None,
                },
                sort: (shown > 0).then(|| {
                    internal[..shown]
                        .iter()
                        .zip(&types)
                        .zip(&formats)
                        .map(|((v, ty), fmt)| render_sort_value(v, *ty, fmt.as_deref()))
                        .collect()
                }),
                inner_hits: nested_inner,
            }));
            last_internal = Some(internal);
        }
    }
    if opts.group.is_some() {
        // Group mode: the caller distributes rows (and carrier rows) by key.
        return Ok(SearchOutcome {
            aggregations: None,
            groups: groups
                .into_iter()
                .zip(hits)
                .map(|((k, n, m), h)| (k, n, m, h))
                .collect(),
            started,
            shards: metas.len(),
            shard_failures: vec![],
            hits: Hits {
                total: None,
                max_score: None,
                hits: vec![],
            },
            terminated_early: None,
            total: None,
            last_internal: None,
            hit_count: 0,
        });
    }
    let mut hits: Vec<Hit> = hits.into_iter().flatten().collect();
    if !req.collapse_inner.is_empty() && !hits.is_empty() {
        expand_collapsed(s, metas, req, opts, &mut hits, &collapse_keys).await?;
    }

    // Totals: bounded by track_total_hits, so a large index is never counted in full by default.
    let mut terminated_early = None;
    let mut exact_total = None;
    let (total, max_score) = if let Some(n) = opts.known_total {
        exact_total = Some(n);
        (Some((n, "eq")), None)
    } else if req.track_total_hits != TrackTotal::Off
        || (want_scores && sorted_by_score && !first_hit_is_max)
        || req.terminate_after.is_some()
    {
        let rows = match (count_rows, &count_query) {
            (Some(rows), _) => rows,
            (None, Some(q)) => s.ch.query_rows(q).await?,
            (None, None) => vec![],
        };
        let mut n = 0u64;
        let mut m: Option<f64> = None;
        for r in &rows {
            let ni = r["n"].as_u64().unwrap_or(0);
            if let Some(ta) = req.terminate_after {
                if ni > ta {
                    terminated_early = Some(true);
                }
                n += ni.min(ta);
            } else {
                n += ni;
            }
            if ni > 0
                && let Some(mi) = r["m"].as_f64()
            {
                m = Some(m.map_or(mi, |x: f64| x.max(mi)));
            }
        }
        if req.terminate_after.is_some() && terminated_early.is_none() {
            terminated_early = Some(false);
        }
        let total = match req.track_total_hits {
            TrackTotal::Off => None,
            TrackTotal::UpTo(k) if n > k => Some((k, "gte")),
            _ => {
                exact_total = Some(n);
                Some((n, "eq"))
            }
        };
        (total, m)
    } else {
        (None, None)
    };
    let max_score = if want_scores && first_hit_is_max {
        hits.first().and_then(|h| h._score)
    } else if want_scores && sorted_by_score && req.sort.is_empty() && max_score.is_some() {
        max_score.map(|x| x as f32)
    } else if want_scores {
        hits.iter().filter_map(|h| h._score).reduce(f32::max)
    } else {
        None
    };
    let total_json = total.map(|(v, rel)| {
        if req.total_as_int {
            json!(v)
        } else {
            json!({"value": v, "relation": rel})
        }
    });
    let hit_count = hits.len();
    let aggregations = match aggregations {
        Some(a) => a,
        None => match &agg_sources {
            Some(sources) => {
                Some(crate::aggs::execute(&s.ch, sources, &req.aggs, now_millis).await?)
            }
            None => None,
        },
    };
    Ok(SearchOutcome {
        aggregations,
        groups: vec![],
        started,
        shards: metas.len(),
        shard_failures,
        hits: Hits {
            total: total_json,
            max_score,
            hits,
        },
        terminated_early,
        total: exact_total,
        last_internal,
        hit_count,
    })
}

/// The `inner_hits` of nested queries for one hit row: the matching objects (offset, score) from
/// SQL, best score first (ties by offset), cut to from/size, each with its `_nested` position and
/// its object from the document's `_source` (inner-hits.html#nested-inner-hits).
fn nested_inner_hits_of(
    r: &Map<String, Value>,
    nested: &[&dsl::compound::Nested],
    index: &str,
    src: &str,
    total_as_int: bool,
) -> Option<BTreeMap<String, InnerHits>> {
    if nested.is_empty() {
        return None;
    }
    let doc: Value = serde_json::from_str(src).unwrap_or(Value::Null);
    let id = r
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut out = BTreeMap::new();
    for (k, n) in nested.iter().enumerate() {
        let Some(spec) = &n.inner_hits else { continue };
        let mut objs: Vec<(u64, f64)> = r
            .get(&format!("_nih{k}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| match t {
                        Value::Array(p) => Some((p.first()?.as_u64()?, p.get(1)?.as_f64()?)),
                        Value::Object(o) => {
                            let mut it = o.values();
                            Some((it.next()?.as_u64()?, it.next()?.as_f64()?))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        objs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total = objs.len();
        let max_score = objs.first().map(|o| o.1 as f32);
        let mut values = Vec::new();
        hit_fields::values_at(&doc, &n.path, false, &mut values);
        let hits = objs
            .iter()
            .skip(spec.from as usize)
            .take(spec.size as usize)
            .map(|(offset, score)| Hit {
                _index: index.to_string(),
                _id: Some(id.clone()),
                _nested: Some(json!({"field": n.path, "offset": offset})),
                _version: None,
                _seq_no: None,
                _primary_term: None,
                _score: Some(*score as f32),
                _source: if spec.source {
                    values
                        .get(*offset as usize)
                        .and_then(|v| serde_json::value::to_raw_value(v).ok())
                } else {
                    None
                },
                fields: None,
                highlight: None,
                sort: None,
                inner_hits: None,
            })
            .collect();
        let total = if total_as_int {
            json!(total)
        } else {
            json!({"value": total, "relation": "eq"})
        };
        out.insert(
            spec.name.clone(),
            InnerHits {
                hits: Hits {
                    total: Some(total),
                    max_score,
                    hits,
                },
            },
        );
    }
    Some(out)
}

/// Expands collapsed hits with their `inner_hits` (ExpandSearchPhase): per definition, one search
/// of the original query and post_filter restricted to the returned groups' keys, numbered per
/// group in SQL — one query per definition, not one per group.
async fn expand_collapsed(
    s: &AppState,
    metas: &[Arc<IndexMeta>],
    req: &SearchRequest,
    opts: &ExecOptions,
    hits: &mut [Hit],
    keys: &[Value],
) -> Result<(), EsError> {
    let Some(field) = &req.collapse else {
        return Ok(());
    };
    let mut values: Vec<Value> = keys.iter().filter(|k| !k.is_null()).cloned().collect();
    values.dedup();
    let mut key_filter = vec![Query::Terms {
        field: field.clone(),
        values,
        boost: 1.0,
    }];
    if keys.iter().any(Value::is_null) {
        key_filter.push(Query::Bool(Box::new(dsl::Bool {
            must: vec![],
            filter: vec![],
            should: vec![],
            must_not: vec![Query::Exists {
                field: field.clone(),
                boost: 1.0,
            }],
            minimum_should_match: None,
            boost: 1.0,
        })));
    }
    let group_query = Query::Bool(Box::new(dsl::Bool {
        must: vec![req.query.clone()],
        filter: vec![Query::Bool(Box::new(dsl::Bool {
            must: vec![],
            filter: vec![],
            should: key_filter,
            must_not: vec![],
            minimum_should_match: None,
            boost: 1.0,
        }))],
        should: vec![],
        must_not: vec![],
        minimum_should_match: None,
        boost: 1.0,
    }));
    for spec in &req.collapse_inner {
        let inner = SearchRequest {
            query: group_query.clone(),
            post_filter: req.post_filter.clone(),
            from: spec.from,
            size: spec.size,
            sort: spec.sort.clone(),
            source: spec.source.clone(),
            source_explicit: true,
            track_total_hits: TrackTotal::Off,
            version: spec.version,
            seq_no_primary_term: spec.seq_no_primary_term,
            track_scores: spec.track_scores,
            fields: spec.fields.clone(),
            docvalue_fields: spec.docvalue_fields.clone(),
            collapse: Some(field.clone()),
            highlight: spec.highlight.clone(),
            runtime_mappings: req.runtime_mappings.clone(),
            ..Default::default()
        };
        let inner_opts = ExecOptions {
            bounds: opts.bounds.clone(),
            group: Some((spec.from, spec.size)),
            ..Default::default()
        };
        let out = Box::pin(execute(s, metas, &inner, &inner_opts)).await?;
        let scored = inner.sort.is_empty()
            || inner.track_scores
            || inner
                .sort
                .iter()
                .any(|k| matches!(k, SortKey::Score { .. }));
        let mut by_key: Vec<(Value, u64, Option<f64>, Vec<Hit>)> = Vec::new();
        for (key, n, m, hit) in out.groups {
            let slot = match by_key.iter().position(|(k, ..)| *k == key) {
                Some(i) => i,
                None => {
                    by_key.push((key, n, m, vec![]));
                    by_key.len() - 1
                }
            };
            if let Some(h) = hit {
                by_key[slot].3.push(h);
            }
        }
        for (hit, key) in hits.iter_mut().zip(keys) {
            let (total, max, group_hits) = match by_key.iter().position(|(k, ..)| k == key) {
                Some(i) => {
                    let (_, n, m, hs) =
                        std::mem::replace(&mut by_key[i], (Value::Null, 0, None, vec![]));
                    by_key[i].0 = key.clone();
                    (n, m, hs)
                }
                None => (0, None, vec![]),
            };
            let max_score = if !scored {
                None
            } else if inner.sort.is_empty() {
                max.map(|x| x as f32)
            } else {
                group_hits.iter().filter_map(|h| h._score).reduce(f32::max)
            };
            let total = if req.total_as_int {
                json!(total)
            } else {
                json!({"value": total, "relation": "eq"})
            };
            hit.inner_hits.get_or_insert_with(BTreeMap::new).insert(
                spec.name.clone(),
                InnerHits {
                    hits: Hits {
                        total: Some(total),
                        max_score,
                        hits: group_hits,
                    },
                },
            );
        }
    }
    Ok(())
}

/// A runtime field's value as the hits query returns it for `fields`: dates as epoch millis,
/// IPv4 addresses in dotted form.
fn runtime_output(f: &fields::Field) -> Expr {
    let e = f.column_expr();
    match f.kind {
        fields::EsKind::Date => Expr::func("toUnixTimestamp64Milli", vec![e]),
        fields::EsKind::Ip => Expr::func(
            "replaceRegexpOne",
            vec![
                Expr::func("toString", vec![e]),
                sql::lit("^::ffff:([0-9.]+)$"),
                sql::lit("\\1"),
            ],
        ),
        _ => e,
    }
}

/// The collapse key of one index: a single-valued keyword or numeric field with doc values
/// (CollapseBuilder#build).
fn collapse_expr(meta: &IndexMeta, field: &str) -> Result<Expr, EsError> {
    let Some(info) = meta.mappings.field(field) else {
        return Err(phase_failure(
            EsError::illegal_argument(format!(
                "no mapping found for `{field}` in order to collapse on"
            )),
            Some(meta),
        ));
    };
    let kind = fields::EsKind::from_type(&info.es_type);
    if !(kind == fields::EsKind::Keyword || kind.is_numeric()) {
        return Err(phase_failure(
            EsError::illegal_argument(format!(
                "collapse is not supported for the field [{field}] of the type [{}]",
                info.es_type
            )),
            Some(meta),
        ));
    }
    if !info.aggregatable {
        return Err(phase_failure(
            EsError::illegal_argument(format!(
                "cannot collapse on field `{field}` without `doc_values`"
            )),
            Some(meta),
        ));
    }
    let Some(f) = fields::resolve(meta, field) else {
        return Ok(sql::null());
    };
    if f.is_array {
        return Err(EsError::unsupported(format!(
            "[collapse] on multi-valued field [{field}]"
        )));
    }
    Ok(f.column_expr())
}

fn search_options(p: &Params) -> Result<ResolveOptions, EsError> {
    super::indices::resolve_options(p)
}

/// The snapshot bound of each index: its highest `_seq_no` now (one query for all indices).
pub async fn snapshot(s: &AppState, metas: &[Arc<IndexMeta>]) -> Result<Vec<SnapIndex>, EsError> {
    let managed: Vec<&Arc<IndexMeta>> = metas.iter().filter(|m| m.managed).collect();
    let mut bounds = std::collections::HashMap::new();
    if !managed.is_empty() {
        let selects: Vec<sql::Select> = managed
            .iter()
            .map(|m| sql::Select {
                items: vec![
                    sql::lit(m.name.as_str()).alias("i"),
                    Expr::func("max", vec![sql::col(COL_SEQ_NO)]).alias("s"),
                ],
                from: Some(sql::FromClause::table(s.catalog.db(), m.table())),
                ..Default::default()
            })
            .collect();
        for r in s.ch.query_rows(&sql::union_all(selects)).await? {
            if let (Some(i), Some(n)) = (r["i"].as_str(), r["s"].as_u64()) {
                bounds.insert(i.to_string(), n);
            }
        }
    }
    Ok(metas
        .iter()
        .map(|m| SnapIndex {
            name: m.name.clone(),
            max_seq_no: if m.managed {
                Some(bounds.get(&m.name).copied().unwrap_or(0))
            } else {
                None
            },
        })
        .collect())
}

/// Resolves the indices of a cursor by name; a vanished index means the context is gone.
pub async fn cursor_indices(
    s: &AppState,
    idx: &[SnapIndex],
    ctx: u64,
) -> Result<(Vec<Arc<IndexMeta>>, Vec<Option<u64>>), EsError> {
    let mut metas = Vec::new();
    let mut bounds = Vec::new();
    for i in idx {
        if !crate::security::may_read_through_cursor(&i.name) {
            return Err(cursor::context_missing(ctx));
        }
        match s.catalog.get(&i.name).await? {
            Some(m) => {
                metas.push(m);
                bounds.push(i.max_seq_no);
            }
            None => return Err(cursor::context_missing(ctx)),
        }
    }
    Ok((metas, bounds))
}

/// Runs one parsed `_search` (also an `_msearch` item): plain, scroll or point in time.
pub async fn run_search(
    s: &AppState,
    expr: Option<&str>,
    p: &Params,
    req: &SearchRequest,
    folded: &Value,
) -> Result<String, EsError> {
    if let Some(pit) = &req.pit {
        let state = PitState::decode(&pit.id)?;
        let now = cursor::now_millis();
        if state.exp < now {
            return Err(cursor::context_missing(state.ctx));
        }
        let (metas, bounds) = cursor_indices(s, &state.idx, state.ctx).await?;
        let opts = ExecOptions {
            bounds,
            pit: true,
            ..Default::default()
        };
        let out = execute(s, &metas, req, &opts).await?;
        let id = match pit.keep_alive {
            Some(ka) => PitState {
                exp: now + ka,
                ..state
            }
            .encode(),
            None => pit.id.clone(),
        };
        return out.render(None, Some(&id));
    }
    let metas = s
        .catalog
        .resolve(expr.unwrap_or("*"), search_options(p)?)
        .await?;
    if let Some(keep_alive) = req.scroll {
        let snap = snapshot(s, &metas).await?;
        let opts = ExecOptions {
            bounds: snap.iter().map(|i| i.max_seq_no).collect(),
            scroll: true,
            ..Default::default()
        };
        let mut scroll_req = req.clone();
        scroll_req.track_total_hits = TrackTotal::Exact;
        let out = execute(s, &metas, &scroll_req, &opts).await?;
        let state = ScrollState {
            v: 1,
            ctx: cursor::new_context_id(),
            idx: snap,
            body: folded.clone(),
            after: out.last_internal.clone(),
            exp: cursor::now_millis() + keep_alive,
            total: out.total.unwrap_or(0),
            seen: out.hit_count as u64,
            int_total: req.total_as_int,
            done: out.hit_count == 0,
        };
        return out.render(Some(&state.encode()), None);
    }
    let out = match req.timeout_ms {
        None => execute(s, &metas, req, &ExecOptions::default()).await?,
        Some(ms) => {
            let started = Instant::now();
            let deadline = started + std::time::Duration::from_millis(ms);
            let opts = ExecOptions::default();
            let run = execute(s, &metas, req, &opts);
            match crate::clickhouse::with_deadline(deadline, run).await {
                Err(e) if e.extra.contains_key("elastichouse.timed_out") => {
                    return Ok(timed_out_response(started, metas.len()));
                }
                r => r?,
            }
        }
    };
    out.render(None, None)
}

/// A search that ran out of its `timeout`: Elasticsearch answers 200 with `timed_out: true` and
/// what it had collected (SearchResponse, `timeout` in search-your-data.html#search-timeout);
/// the statements were stopped in the engine, so nothing was collected.
fn timed_out_response(started: Instant, shards_n: usize) -> String {
    tracing::info!(
        took_ms = started.elapsed().as_millis() as u64,
        "search timed out"
    );
    json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": true,
        "_shards": shards(shards_n),
        "hits": {"total": {"value": 0, "relation": "gte"}, "max_score": null, "hits": []},
    })
    .to_string()
}

fn json_response(text: String) -> ApiResult {
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

/// The request body, or the `source` URL parameter when there is none (RestRequest).
pub fn body_or_source(body: &Bytes, p: &Params) -> Result<Option<Value>, EsError> {
    match parse_body(body)? {
        Some(v) => Ok(Some(v)),
        None => match p.get("source") {
            Some(src) => parse_body(src.as_bytes()),
            None => Ok(None),
        },
    }
}

async fn search_impl(
    s: AppState,
    expr: Option<&str>,
    path: &str,
    p: Params,
    body: Bytes,
) -> ApiResult {
    check_params(path, &p, SEARCH_PARAMS)?;
    check_accepted_params(&p)?;
    let body = body_or_source(&body, &p)?;
    let (req, folded) = parse_request(body.as_ref(), &p, expr.is_some())?;
    json_response(run_search(&s, expr, &p, &req, &folded).await?)
}

pub async fn search(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    search_impl(s, Some(&index), uri.path(), p, body).await
}

pub async fn search_all(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    search_impl(s, None, uri.path(), p, body).await
}

async fn count_impl(s: AppState, expr: &str, p: Params, body: Bytes) -> ApiResult {
    let body = body_or_source(&body, &p)?;
    let mut query = Query::MatchAll { boost: 1.0 };
    if let Some(Value::Object(m)) = &body {
        for (k, v) in m {
            match k.as_str() {
                "query" => query = dsl::parse_query(v)?,
                other => {
                    return Err(EsError::parsing(format!(
                        "request does not support [{other}]"
                    )));
                }
            }
        }
    }
    if p.contains_key("q") {
        // Same URL query as `_search` (query_string built from q/df/default_operator/…).
        let folded = fold_params(None, &p)?;
        query = dsl::parse_query(&folded["query"])?;
    }
    let metas = s.catalog.resolve(expr, search_options(&p)?).await?;
    let now_millis = chrono::Utc::now().timestamp_millis();
    let mut total = 0u64;
    for meta in &metas {
        let ctx = Ctx::new(meta, now_millis);
        let where_ = plan::search_filter(&ctx, &query).map_err(|e| phase_failure(e, Some(meta)))?;
        let q = sql::Select {
            // `__n`: not a name a column can have (the WHERE holds the user's query).
            items: vec![Expr::func("count", vec![]).alias("__n")],
            from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
            rows: meta.rows(),
            where_: Some(where_),
            ..Default::default()
        };
        let rows = s.ch.query_rows(&q).await?;
        total += rows.first().and_then(|r| r["__n"].as_u64()).unwrap_or(0);
    }
    Ok(super::ok(json!({"count": total, "_shards": shards(metas.len())})).into_response())
}

pub async fn count(
    State(s): State<AppState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    count_impl(s, &index, p, body).await
}

pub async fn count_all(
    State(s): State<AppState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    count_impl(s, "*", p, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecognized_parameters_like_elasticsearch() {
        let mut p = Params::new();
        p.insert("foo".into(), "1".into());
        let e = check_params("/idx/_search", &p, SEARCH_PARAMS).unwrap_err();
        assert_eq!(
            e.reason,
            "request [/idx/_search] contains unrecognized parameter: [foo]"
        );
        p.insert("sizee".into(), "1".into());
        let e = check_params("/idx/_search", &p, SEARCH_PARAMS).unwrap_err();
        assert_eq!(
            e.reason,
            "request [/idx/_search] contains unrecognized parameters: [foo], [sizee] -> did you mean [size]?"
        );
    }

    /// An index of `fields` text fields, planned without ClickHouse.
    fn text_index(fields: &[&str]) -> IndexMeta {
        let mut props = Map::new();
        for f in fields {
            props.insert(f.to_string(), json!({"type": "text"}));
        }
        let mappings =
            crate::schema::mapping::parse_mappings(&json!({ "properties": props })).unwrap();
        IndexMeta::planned("t", "db", mappings)
    }

    #[test]
    fn bm25_statistics_are_rendered_once() {
        // docs/search.md: the statistics scalar subquery is one `_stats` item of the select,
        // referenced by name wherever the score needs a statistic.
        let meta = text_index(&["a", "b", "c", "d"]);
        let body = json!({"query": {"multi_match": {"query": "quick brown fox jumps",
            "fields": ["a", "b^2", "c", "d"], "type": "most_fields"}}});
        let (req, _) = parse_request(Some(&body), &Params::new(), true).unwrap();
        let ctx = Ctx::new(&meta, 0);
        let (where_, score, stats) = index_plan(&ctx, &req, true).unwrap();
        let [stats, norms] = stats;
        let stats = stats.unwrap();
        let stats_sql = stats.to_string();
        let norms = norms.unwrap();
        let norms_sql = norms.to_string();
        let mut items = vec![Expr::func("toFloat64", vec![score]).alias("_score")];
        items.push(stats.alias(plan::stats::STATS_ALIAS));
        items.push(norms.alias(plan::stats::NORMS_ALIAS));
        let q = sql::Select {
            items,
            from: Some(meta.from_clause()),
            where_: Some(where_),
            ..Default::default()
        };
        let text = q.to_string();
        // Each reference inlined instead (how it was rendered before): for the figure.
        let inlined = text
            .replace("`_eh_bm25_stats`", &stats_sql)
            .replace("`_eh_bm25_norms`", &norms_sql);
        println!(
            "multi_match over 4 fields, 4 terms: {} bytes of SQL ({} with the statistics inlined)",
            text.len(),
            inlined.len()
        );
        // The statistics subquery reads live rows once: one live-row condition besides the
        // outer query's (which this test's select leaves out).
        assert_eq!(text.matches("`..state` = 0").count(), 1, "{text}");
        assert!(text.len() * 2 < inlined.len());
        // idf and average lengths are constants of the query, computed inside the subquery.
        assert!(text.len() < 16_000, "{} bytes", text.len());
        if std::env::var("SHOW_SQL").is_ok() {
            println!("{text}");
        }
    }

    #[test]
    fn validation_messages_are_numbered() {
        let body = json!({"from": 5, "search_after": [1], "sort": ["_shard_doc"]});
        let e = parse_request(Some(&body), &Params::new(), true).unwrap_err();
        assert_eq!(e.kind, "action_request_validation_exception");
        assert_eq!(
            e.reason,
            "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;2: [_shard_doc] sort field cannot be used without [point in time];"
        );
    }
}
