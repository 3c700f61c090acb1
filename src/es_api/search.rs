//! `_search` and `_count`.
//!
//! One index: one hits query (`ORDER BY … LIMIT`) and, when totals are tracked, one bounded count.
//! Several indices: the per-index selects are combined with UNION ALL, so it stays one hits query.

use super::{ApiResult, Params, flag, parse_body};
use crate::catalog::{COL_ID, COL_SEQ_NO, COL_SOURCE, COL_VERSION, IndexMeta, ResolveOptions};
use crate::dsl::{self, Query};
use crate::error::EsError;
use crate::plan::{self, Ctx, fields};
use crate::render::SourceFilter;
use crate::server::AppState;
use crate::sql::{self, Expr};
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// `index.max_result_window` default.
pub const MAX_RESULT_WINDOW: u64 = 10_000;

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
    Field {
        field: String,
        desc: bool,
        missing: Missing,
        unmapped_type: Option<String>,
        mode: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: Query,
    pub from: u64,
    pub size: u64,
    pub sort: Vec<SortKey>,
    pub source: SourceFilter,
    pub track_total_hits: TrackTotal,
    pub track_scores: bool,
    pub version: bool,
    pub seq_no_primary_term: bool,
    pub total_as_int: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: Query::MatchAll { boost: 1.0 },
            from: 0,
            size: 10,
            sort: vec![],
            source: SourceFilter::All,
            track_total_hits: TrackTotal::UpTo(MAX_RESULT_WINDOW),
            track_scores: false,
            version: false,
            seq_no_primary_term: false,
            total_as_int: false,
        }
    }
}

/// Search-body keys that Elasticsearch has and elastichouse does not implement yet.
const UNSUPPORTED_KEYS: [&str; 20] = [
    "aggs",
    "aggregations",
    "post_filter",
    "highlight",
    "collapse",
    "search_after",
    "pit",
    "rescore",
    "suggest",
    "script_fields",
    "docvalue_fields",
    "stored_fields",
    "fields",
    "runtime_mappings",
    "knn",
    "indices_boost",
    "min_score",
    "slice",
    "profile",
    "explain",
];

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
    match v {
        Value::String(f) => out.push(match f.as_str() {
            "_score" => SortKey::Score { desc: true },
            "_doc" => SortKey::Doc { desc: false },
            f => SortKey::Field {
                field: f.into(),
                desc: false,
                missing: Missing::Last,
                unmapped_type: None,
                mode: None,
            },
        }),
        Value::Object(m) => {
            for (field, spec) in m {
                let (mut desc, mut missing, mut unmapped, mut mode) =
                    (field == "_score", Missing::Last, None, None);
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
                                "numeric_type" | "format" => {
                                    return Err(EsError::unsupported(format!("sort option [{k}]")));
                                }
                                "nested" | "nested_path" | "nested_filter" => {
                                    return Err(EsError::unsupported("sort on nested fields"));
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
                    "_score" => SortKey::Score { desc },
                    "_doc" => SortKey::Doc { desc },
                    "_geo_distance" | "_script" => {
                        return Err(EsError::unsupported(format!("sort by [{field}]")));
                    }
                    f => SortKey::Field {
                        field: f.into(),
                        desc,
                        missing,
                        unmapped_type: unmapped,
                        mode,
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

/// Builds the request from the body and URL parameters (the URL wins, as in RestSearchAction).
pub fn parse_request(body: Option<&Value>, p: &Params) -> Result<SearchRequest, EsError> {
    let mut r = SearchRequest::default();
    if let Some(body) = body {
        let Value::Object(m) = body else {
            return Err(EsError::parsing("request body must be an object"));
        };
        for (k, v) in m {
            match k.as_str() {
                "query" => r.query = dsl::parse_query(v)?,
                "from" => r.from = as_u64(v, "from")?,
                "size" => r.size = as_u64(v, "size")?,
                "sort" => {
                    r.sort.clear();
                    parse_sort_entry(v, &mut r.sort)?
                }
                "_source" => r.source = SourceFilter::from_json(v).map_err(EsError::parsing)?,
                "track_total_hits" => r.track_total_hits = track_total(v)?,
                "track_scores" => r.track_scores = v.as_bool().unwrap_or(false),
                "version" => r.version = v.as_bool().unwrap_or(false),
                "seq_no_primary_term" => r.seq_no_primary_term = v.as_bool().unwrap_or(false),
                "timeout" | "terminate_after" | "stats" | "_name" => {}
                k if UNSUPPORTED_KEYS.contains(&k) => {
                    let empty = matches!(v, Value::Object(o) if o.is_empty())
                        || matches!(v, Value::Array(a) if a.is_empty());
                    if !empty {
                        return Err(EsError::unsupported(format!("search request [{k}]")));
                    }
                }
                other => {
                    return Err(EsError::parsing(format!(
                        "Unknown key for a START_OBJECT in [{other}]."
                    )));
                }
            }
        }
    }
    if let Some(v) = p.get("size") {
        r.size = as_u64(&Value::String(v.clone()), "size")?;
    }
    if let Some(v) = p.get("from") {
        r.from = as_u64(&Value::String(v.clone()), "from")?;
    }
    if let Some(v) = p.get("track_total_hits") {
        r.track_total_hits = track_total(&Value::String(if v.is_empty() {
            "true".into()
        } else {
            v.clone()
        }))?;
    }
    if let Some(s) = p.get("sort") {
        r.sort.clear();
        for part in s.split(',').filter(|x| !x.is_empty()) {
            let (f, o) = part
                .rsplit_once(':')
                .unwrap_or((part, if part == "_score" { "desc" } else { "asc" }));
            parse_sort_entry(&json!({ f: o }), &mut r.sort)?;
        }
    }
    if p.contains_key("_source")
        || p.contains_key("_source_includes")
        || p.contains_key("_source_excludes")
    {
        r.source = SourceFilter::from_params(p);
    }
    if p.contains_key("q") {
        return Err(EsError::unsupported(
            "URI search parameter [q] (query_string)",
        ));
    }
    if p.contains_key("version") {
        r.version = flag(p, "version")?;
    }
    if p.contains_key("seq_no_primary_term") {
        r.seq_no_primary_term = flag(p, "seq_no_primary_term")?;
    }
    r.total_as_int = flag(p, "rest_total_hits_as_int")?;
    if r.from + r.size > MAX_RESULT_WINDOW {
        return Err(phase_failure(
            EsError::illegal_argument(format!(
                "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
                r.from + r.size
            )),
            None,
        ));
    }
    Ok(r)
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

/// The sort value expression of one key for one index, or an error for unsortable fields.
fn sort_expr(
    ctx: &Ctx,
    key: &SortKey,
    score: &Expr,
) -> Result<(Expr, bool, Option<bool>), EsError> {
    Ok(match key {
        SortKey::Score { desc } => (score.clone(), *desc, None),
        SortKey::Doc { desc } => (sql::col(COL_SEQ_NO), *desc, None),
        SortKey::Field {
            field,
            desc,
            missing,
            unmapped_type,
            mode,
        } => {
            let nulls_first = Some(matches!(missing, Missing::First));
            let Some(f) = fields::resolve(ctx.meta, field) else {
                if unmapped_type.is_some() || fields::is_mapped(ctx.meta, field) {
                    return Ok((sql::null(), *desc, nulls_first));
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
            let mut e = f.column_expr();
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
                _ => e,
            };
            if let Missing::Value(v) = missing {
                let lit = match v {
                    Value::Number(n) if n.is_i64() => sql::lit(n.as_i64().unwrap()),
                    Value::Number(n) => sql::lit(n.as_f64().unwrap_or(0.0)),
                    other => sql::lit(
                        other
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| other.to_string()),
                    ),
                };
                e = Expr::func("ifNull", vec![e, lit]);
            }
            (e, *desc, nulls_first)
        }
    })
}

fn sort_value(v: &Value, key: &SortKey) -> Value {
    match (v, key) {
        (Value::Null, SortKey::Field { desc, .. }) => {
            // What Elasticsearch shows for a missing numeric value; strings show null.
            let _ = desc;
            Value::Null
        }
        (v, _) => v.clone(),
    }
}

/// A hit as Elasticsearch renders it (field order matters for byte-level comparisons).
#[derive(Serialize)]
struct Hit {
    _index: String,
    _id: String,
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
    sort: Option<Vec<Value>>,
}

#[derive(Serialize)]
struct Hits {
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<Value>,
    max_score: Option<f32>,
    hits: Vec<Hit>,
}

#[derive(Serialize)]
struct SearchResponse {
    took: u64,
    timed_out: bool,
    _shards: Value,
    hits: Hits,
}

fn shards(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

/// Runs a search over resolved indices.
pub async fn execute(
    s: &AppState,
    metas: &[Arc<IndexMeta>],
    req: &SearchRequest,
) -> Result<Value, EsError> {
    let started = Instant::now();
    let now_millis = chrono::Utc::now().timestamp_millis();
    let sorted_by_score =
        req.sort.is_empty() || req.sort.iter().any(|k| matches!(k, SortKey::Score { .. }));
    let want_scores = req.sort.is_empty() || req.track_scores || sorted_by_score;
    let sort: Vec<SortKey> = if req.sort.is_empty() {
        vec![SortKey::Score { desc: true }]
    } else {
        req.sort.clone()
    };

    let mut selects = Vec::new();
    let mut counts = Vec::new();
    for meta in metas {
        let ctx = Ctx::new(meta, now_millis);
        let (where_, score) = plan::filter_and_score(meta, now_millis, &req.query, want_scores)
            .map_err(|e| {
                if e.kind == "search_phase_execution_exception" {
                    e
                } else {
                    phase_failure(e, Some(meta))
                }
            })?;
        let from = sql::FromClause::table(s.catalog.db(), meta.table());
        let mut items = if meta.managed {
            vec![
                sql::lit(meta.name.as_str()).alias("_index"),
                sql::col(COL_ID).alias("_id"),
                sql::col(COL_SOURCE).alias("_source"),
                sql::col(COL_VERSION).alias("_version"),
                sql::col(COL_SEQ_NO).alias("_seq_no"),
                Expr::func("toFloat64", vec![score.clone()]).alias("_score"),
            ]
        } else {
            // A table elastichouse did not create: `_source` is the row as JSON, `_id` a hash of the
            // row (identical rows share an id), no versions (docs/storage.md).
            let row_hash = Expr::func("sipHash128", vec![sql::star()]);
            vec![
                sql::lit(meta.name.as_str()).alias("_index"),
                Expr::func("lower", vec![Expr::func("hex", vec![row_hash])]).alias("_id"),
                Expr::func(
                    "formatRowNoNewline",
                    vec![sql::lit("JSONEachRow"), sql::star()],
                )
                .alias("_source"),
                sql::lit(1u64).alias("_version"),
                sql::lit(0u64).alias("_seq_no"),
                Expr::func("toFloat64", vec![score.clone()]).alias("_score"),
            ]
        };
        for (i, key) in sort.iter().enumerate() {
            let (e, _, _) = sort_expr(&ctx, key, &score)?;
            items.push(e.alias(format!("s{i}")));
        }
        selects.push(sql::Select {
            items,
            from: Some(from.clone()),
            final_: meta.managed,
            where_: Some(where_.clone()),
            ..Default::default()
        });
        counts.push(sql::Select {
            items: vec![
                sql::lit(1u64).alias("one"),
                Expr::func("toFloat64", vec![score]).alias("sc"),
            ],
            from: Some(from),
            final_: meta.managed,
            where_: Some(where_),
            ..Default::default()
        });
    }

    let mut order = Vec::new();
    for (i, key) in sort.iter().enumerate() {
        let desc = match key {
            SortKey::Score { desc } | SortKey::Doc { desc } | SortKey::Field { desc, .. } => *desc,
        };
        let nulls_first = matches!(
            key,
            SortKey::Field {
                missing: Missing::First,
                ..
            }
        );
        order.push(sql::OrderBy {
            expr: sql::col(format!("s{i}")),
            desc,
            nulls_first: Some(nulls_first),
        });
    }
    // Ties: index order, then indexing order (Elasticsearch breaks ties by shard, then doc id).
    order.push(sql::OrderBy {
        expr: sql::col("_index"),
        desc: false,
        nulls_first: None,
    });
    order.push(sql::OrderBy {
        expr: sql::col("_seq_no"),
        desc: false,
        nulls_first: None,
    });

    let mut hits = Vec::new();
    if req.size > 0 && !selects.is_empty() {
        let q = sql::Select {
            items: vec![sql::star().into()],
            from: Some(sql::FromClause::subquery(sql::union_all(selects), "hits")),
            order_by: order,
            limit: Some(req.size),
            offset: (req.from > 0).then_some(req.from),
            ..Default::default()
        };
        let rows = s.ch.query_rows(&q).await?;
        for r in rows {
            let src = r.get("_source").and_then(Value::as_str).unwrap_or("{}");
            let score = r.get("_score").and_then(Value::as_f64);
            hits.push(Hit {
                _index: r["_index"].as_str().unwrap_or_default().to_string(),
                _id: r["_id"].as_str().unwrap_or_default().to_string(),
                _version: req.version.then(|| r["_version"].as_u64().unwrap_or(1)),
                _seq_no: req
                    .seq_no_primary_term
                    .then(|| r["_seq_no"].as_u64().unwrap_or(0)),
                _primary_term: req.seq_no_primary_term.then_some(1),
                _score: if want_scores {
                    score.map(|x| x as f32)
                } else {
                    None
                },
                _source: req.source.apply(src),
                sort: (!req.sort.is_empty()).then(|| {
                    sort.iter()
                        .enumerate()
                        .map(|(i, k)| sort_value(&r[&format!("s{i}")], k))
                        .collect()
                }),
            });
        }
    }

    // Totals: bounded by track_total_hits, so a large index is never counted in full by default.
    let (total, max_score) =
        if req.track_total_hits != TrackTotal::Off || (want_scores && sorted_by_score) {
            let limit = match req.track_total_hits {
                TrackTotal::UpTo(n) => Some(n + 1),
                _ => None,
            };
            let inner = sql::Select {
                items: vec![sql::star().into()],
                from: Some(sql::FromClause::subquery(sql::union_all(counts), "c")),
                limit,
                ..Default::default()
            };
            let q = sql::Select {
                items: vec![
                    Expr::func("count", vec![]).alias("n"),
                    Expr::func("max", vec![sql::col("sc")]).alias("m"),
                ],
                from: Some(sql::FromClause::subquery(inner, "t")),
                ..Default::default()
            };
            let rows = if metas.is_empty() {
                vec![]
            } else {
                s.ch.query_rows(&q).await?
            };
            let n = rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
            let m = rows.first().and_then(|r| r["m"].as_f64()).filter(|_| n > 0);
            let total = match req.track_total_hits {
                TrackTotal::Off => None,
                TrackTotal::UpTo(k) if n > k => Some((k, "gte")),
                _ => Some((n, "eq")),
            };
            (total, m)
        } else {
            (None, None)
        };
    let max_score = if want_scores && sorted_by_score && req.sort.is_empty() {
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
    let resp = SearchResponse {
        took: started.elapsed().as_millis() as u64,
        timed_out: false,
        _shards: shards(metas.len()),
        hits: Hits {
            total: total_json,
            max_score,
            hits,
        },
    };
    // RawValue keeps `_source` bytes; going through Value here would re-serialise them.
    let bytes = serde_json::to_string(&resp).map_err(|e| EsError::storage(e.to_string()))?;
    Ok(Value::String(bytes))
}

fn search_options(p: &Params) -> Result<ResolveOptions, EsError> {
    super::indices::resolve_options(p)
}

async fn search_impl(s: AppState, expr: &str, p: Params, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    let req = parse_request(body.as_ref(), &p)?;
    let metas = s.catalog.resolve(expr, search_options(&p)?).await?;
    let v = execute(&s, &metas, &req).await?;
    let text = v.as_str().unwrap_or("{}").to_string();
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

pub async fn search(
    State(s): State<AppState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    search_impl(s, &index, p, body).await
}

pub async fn search_all(
    State(s): State<AppState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    search_impl(s, "*", p, body).await
}

async fn count_impl(s: AppState, expr: &str, p: Params, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
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
        return Err(EsError::unsupported(
            "URI search parameter [q] (query_string)",
        ));
    }
    let metas = s.catalog.resolve(expr, search_options(&p)?).await?;
    let now_millis = chrono::Utc::now().timestamp_millis();
    let mut total = 0u64;
    for meta in &metas {
        let ctx = Ctx::new(meta, now_millis);
        let where_ = plan::filter(&ctx, &query).map_err(|e| phase_failure(e, Some(meta)))?;
        let q = sql::Select {
            items: vec![Expr::func("count", vec![]).alias("n")],
            from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
            final_: meta.managed,
            where_: Some(where_),
            ..Default::default()
        };
        let rows = s.ch.query_rows(&q).await?;
        total += rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
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
