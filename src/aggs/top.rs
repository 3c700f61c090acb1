//! top_metrics and top_hits: the best documents of a bucket by a sort, kept inside the bucket's
//! grouping query with `groupArraySorted(n)` over a tuple `(sort key, payload…)` — ClickHouse keeps
//! only `n` tuples per group, so this costs no extra query and no per-bucket round trip.
//!
//! The sort key is a tuple `(missing, value)` per sort field: missing values sort last (as
//! Elasticsearch's `missing: _last` default), descending numeric sorts are negated so that the
//! ascending `groupArraySorted` returns the largest first.

use super::parse_err;
use crate::catalog::{COL_ID, IndexMeta};
use crate::error::EsError;
use crate::plan::fields::{self, EsKind};
use crate::render::SourceFilter;
use crate::sql::{self, Expr};
use serde_json::{Map, Value, json};

/// One sort criterion: a field or `_score`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    pub field: String,
    pub desc: bool,
}

impl SortSpec {
    fn is_score(&self) -> bool {
        self.field == "_score"
    }
}

#[derive(Debug, Clone)]
pub struct TopMetrics {
    pub sort: SortSpec,
    pub metrics: Vec<String>,
    pub size: usize,
}

#[derive(Debug, Clone)]
pub struct TopHits {
    /// Empty: by `_score` descending (and hits carry no `sort` values).
    pub sort: Vec<SortSpec>,
    pub size: usize,
    pub from: usize,
    pub source: SourceFilter,
}

/// The sort element forms of SortBuilder#fromXContent: `"f"`, `{"f": "desc"}`,
/// `{"f": {"order": "desc", …}}`, and arrays of those.
fn parse_sort(ty: &str, v: &Value) -> Result<Vec<SortSpec>, EsError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for it in items {
        match it {
            Value::String(f) => out.push(SortSpec {
                field: f.clone(),
                desc: f == "_score",
            }),
            Value::Object(m) => {
                for (f, spec) in m {
                    let order = match spec {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => {
                            for k in o.keys() {
                                if !["order", "unmapped_type", "format"].contains(&k.as_str()) {
                                    return Err(EsError::unsupported(format!(
                                        "[{ty}] sort option [{k}]"
                                    )));
                                }
                            }
                            o.get("order").and_then(Value::as_str).map(str::to_string)
                        }
                        other => return Err(parse_err(ty, "sort", other)),
                    };
                    let desc = match order.as_deref().map(str::to_ascii_lowercase).as_deref() {
                        None => f == "_score",
                        Some("asc") => false,
                        Some("desc") => true,
                        Some(o) => {
                            return Err(EsError::illegal_argument(format!(
                                "Unknown SortOrder [{o}]"
                            )));
                        }
                    };
                    out.push(SortSpec {
                        field: f.clone(),
                        desc,
                    });
                }
            }
            other => return Err(parse_err(ty, "sort", other)),
        }
    }
    Ok(out)
}

fn get_usize(ty: &str, body: &Map<String, Value>, k: &str, d: usize) -> Result<usize, EsError> {
    match body.get(k) {
        None => Ok(d),
        Some(v) => v
            .as_u64()
            .map(|x| x as usize)
            .ok_or_else(|| parse_err(ty, k, v)),
    }
}

/// TopMetricsAggregationBuilder: `metrics` (one `{field}` or a list), `sort` (one), `size` ≤ 10.
pub fn parse_top_metrics(body: &Map<String, Value>) -> Result<TopMetrics, EsError> {
    let ty = "top_metrics";
    super::obj_keys_check(ty, body, &["metrics", "sort", "size"])?;
    let sort = match body.get("sort") {
        None => return Err(EsError::illegal_argument("Required [sort]")),
        Some(v) => parse_sort(ty, v)?,
    };
    if sort.len() != 1 {
        return Err(EsError::illegal_argument(
            "[sort] must contain exactly one sort",
        ));
    }
    let mut metrics = Vec::new();
    let list: Vec<&Value> = match body.get("metrics") {
        None => return Err(EsError::illegal_argument("Required [metrics]")),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
    };
    for m in list {
        match m.get("field") {
            Some(Value::String(f)) => metrics.push(f.clone()),
            _ => return Err(parse_err(ty, "metrics", m)),
        }
    }
    if metrics.is_empty() {
        return Err(EsError::illegal_argument(
            "[metrics] must not be empty: [top_metrics]",
        ));
    }
    let size = get_usize(ty, body, "size", 1)?;
    if size < 1 {
        return Err(EsError::illegal_argument(
            "[size] must be more than 0 but was [0]",
        ));
    }
    // The default of the index.top_metrics_max_size index setting.
    if size > 10 {
        return Err(EsError::illegal_argument(format!(
            "[top_metrics.size] must not be more than [10] but was [{size}]. This limit can be set by changing the [index.top_metrics_max_size] index level setting."
        )));
    }
    Ok(TopMetrics {
        sort: sort.into_iter().next().expect("one sort"),
        metrics,
        size,
    })
}

/// TopHitsAggregationBuilder: `from`, `size`, `sort`, `_source`; the hit options elastichouse
/// does not render (highlight, script_fields, …) answer a 400.
pub fn parse_top_hits(body: &Map<String, Value>) -> Result<TopHits, EsError> {
    let ty = "top_hits";
    super::obj_keys_check(
        ty,
        body,
        &[
            "from",
            "size",
            "sort",
            "_source",
            "track_scores",
            "version",
            "seq_no_primary_term",
            "explain",
            "highlight",
            "stored_fields",
            "docvalue_fields",
            "fields",
            "script_fields",
        ],
    )?;
    for k in [
        "track_scores",
        "version",
        "seq_no_primary_term",
        "explain",
        "highlight",
        "stored_fields",
        "docvalue_fields",
        "fields",
        "script_fields",
    ] {
        match body.get(k) {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(_) => {
                return Err(EsError::unsupported(format!("[top_hits] option [{k}]")));
            }
        }
    }
    let sort = match body.get("sort") {
        None => vec![],
        Some(v) => parse_sort(ty, v)?,
    };
    let sort = if sort.len() == 1 && sort[0].is_score() && sort[0].desc {
        vec![]
    } else {
        sort
    };
    let source = match body.get("_source") {
        None => SourceFilter::All,
        Some(v) => SourceFilter::from_json(v).map_err(EsError::parsing)?,
    };
    let from = get_usize(ty, body, "from", 0)?;
    let size = get_usize(ty, body, "size", 3)?;
    // The default of the index.max_inner_result_window index setting.
    if from.saturating_add(size) > 100 {
        return Err(EsError::illegal_argument(format!(
            "Top hits result window is too large, the top hits aggregator [{ty}]'s from + size must be less than or equal to: [100] but was [{}]. This limit can be set by changing the [index.max_inner_result_window] index level setting.",
            from.saturating_add(size)
        )));
    }
    Ok(TopHits {
        sort,
        size,
        from,
        source,
    })
}

/// How a field's values are shown: its kind and (dates) format, from the first index mapping it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub kind: EsKind,
    pub date_format: Option<String>,
}

pub fn shown(metas: &[std::sync::Arc<IndexMeta>], field: &str) -> Result<Shown, EsError> {
    for meta in metas {
        if let Some(f) = fields::resolve(meta, field) {
            if f.kind == EsKind::Text {
                return Err(super::bucket::fielddata_error(field));
            }
            let date = matches!(f.kind, EsKind::Date | EsKind::DateNanos);
            return Ok(Shown {
                kind: f.kind,
                date_format: date.then(|| {
                    f.format
                        .clone()
                        .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into())
                }),
            });
        }
    }
    Ok(Shown {
        kind: EsKind::Other,
        date_format: None,
    })
}

fn numeric(k: EsKind) -> bool {
    k.is_numeric() || matches!(k, EsKind::Date | EsKind::DateNanos | EsKind::Boolean)
}

/// A field's single value in one index: Float64 for numbers/dates/booleans (dates as epoch
/// millis), String otherwise; `pick_max` chooses among several values (sort mode max/min).
fn value_expr(meta: &IndexMeta, field: &str, as_number: bool, pick_max: bool) -> Expr {
    let Some(f) = fields::resolve(meta, field) else {
        return if as_number {
            Expr::func("CAST", vec![sql::null(), sql::lit("Nullable(Float64)")])
        } else {
            Expr::func("CAST", vec![sql::null(), sql::lit("Nullable(String)")])
        };
    };
    let conv = |e: Expr| -> Expr {
        match (f.kind, as_number) {
            (EsKind::Date | EsKind::DateNanos, true) => Expr::func(
                "toFloat64",
                vec![Expr::func("toUnixTimestamp64Milli", vec![e])],
            ),
            (_, true) => Expr::func("toFloat64", vec![e]),
            (_, false) => Expr::func("toString", vec![e]),
        }
    };
    let c = f.column_expr();
    if f.is_array {
        let mapped = Expr::func(
            "arrayMap",
            vec![sql::lambda(["x"], conv(sql::col("x"))), c.clone()],
        );
        let pick = Expr::func(if pick_max { "arrayMax" } else { "arrayMin" }, vec![mapped]);
        Expr::func(
            "if",
            vec![
                Expr::func("empty", vec![c]),
                sql::null(),
                Expr::func("toNullable", vec![pick]),
            ],
        )
    } else {
        Expr::func("toNullable", vec![conv(c)])
    }
}

/// `(missing, value)`: ascending order of this tuple is the requested order of the sort.
fn sort_key(
    meta: &IndexMeta,
    s: &SortSpec,
    shown: &Shown,
    score: &Expr,
    ty: &str,
) -> Result<Expr, EsError> {
    if s.is_score() {
        let sc = Expr::func("toFloat64", vec![score.clone()]);
        let v = if s.desc {
            Expr::func("negate", vec![sc])
        } else {
            sc
        };
        return Ok(sql::tuple(vec![sql::lit(0u64), v]));
    }
    let num = numeric(shown.kind) || shown.kind == EsKind::Other;
    if !num && s.desc {
        return Err(EsError::unsupported(format!(
            "[{ty}] descending sort on the non-numeric field [{}]",
            s.field
        )));
    }
    let x = value_expr(meta, &s.field, num, s.desc);
    let v = if s.desc {
        Expr::func("negate", vec![x.clone()])
    } else {
        x.clone()
    };
    let zero = if num { sql::lit(0.0) } else { sql::lit("") };
    Ok(sql::tuple(vec![
        Expr::func("toUInt8", vec![x.is_null()]),
        Expr::func("ifNull", vec![v, zero]),
    ]))
}

/// top_metrics input in one index: `(sort key, sort value, metric values…)`.
pub fn metrics_input(
    t: &TopMetrics,
    meta: &IndexMeta,
    shown: &[Shown],
    score: &Expr,
) -> Result<Expr, EsError> {
    let mut items = vec![sort_key(meta, &t.sort, &shown[0], score, "top_metrics")?];
    items.push(if t.sort.is_score() {
        Expr::func(
            "toNullable",
            vec![Expr::func("toFloat64", vec![score.clone()])],
        )
    } else {
        value_expr(meta, &t.sort.field, true, t.sort.desc)
    });
    for (m, sh) in t.metrics.iter().zip(&shown[1..]) {
        items.push(value_expr(meta, m, numeric(sh.kind), false));
    }
    Ok(sql::tuple(items))
}

/// top_hits input in one index: `((sort keys…), (sort values…), _index, _id, _source, score)`.
pub fn hits_input(
    t: &TopHits,
    meta: &IndexMeta,
    shown: &[Shown],
    score: &Expr,
) -> Result<Expr, EsError> {
    let default = [SortSpec {
        field: "_score".into(),
        desc: true,
    }];
    let sorts: &[SortSpec] = if t.sort.is_empty() { &default } else { &t.sort };
    let default_shown = [Shown {
        kind: EsKind::Other,
        date_format: None,
    }];
    let shown: &[Shown] = if t.sort.is_empty() {
        &default_shown
    } else {
        shown
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (s, sh) in sorts.iter().zip(shown) {
        keys.push(sort_key(meta, s, sh, score, "top_hits")?);
        values.push(if s.is_score() {
            Expr::func(
                "toNullable",
                vec![Expr::func("toFloat64", vec![score.clone()])],
            )
        } else {
            value_expr(meta, &s.field, numeric(sh.kind), s.desc)
        });
    }
    let (id, source) = if meta.managed {
        (sql::col(COL_ID), meta.source_expr())
    } else {
        (
            Expr::func(
                "lower",
                vec![Expr::func(
                    "hex",
                    vec![Expr::func("sipHash128", vec![sql::star()])],
                )],
            ),
            Expr::func(
                "formatRowNoNewline",
                vec![sql::lit("JSONEachRow"), sql::star()],
            ),
        )
    };
    let source = if t.source == SourceFilter::None {
        sql::lit("")
    } else {
        source
    };
    Ok(sql::tuple(vec![
        sql::tuple(keys),
        sql::tuple(values),
        sql::lit(meta.name.as_str()),
        id,
        source,
        Expr::func("toFloat64", vec![score.clone()]),
    ]))
}

/// The aggregate column: the best `n` input tuples of the group, best first.
pub fn column(v: Expr, n: usize, skip_missing: bool) -> Expr {
    if skip_missing {
        // top_metrics only collects documents that have a sort value.
        let missing = Expr::func(
            "tupleElement",
            vec![
                Expr::func("tupleElement", vec![v.clone(), sql::lit(1u64)]),
                sql::lit(1u64),
            ],
        );
        sql::func_params(
            "groupArraySortedIf",
            vec![sql::lit(n as u64)],
            vec![v, missing.eq(sql::lit(0u64))],
        )
    } else {
        sql::func_params("groupArraySorted", vec![sql::lit(n as u64)], vec![v])
    }
}

/// A value as Elasticsearch's DocValueFormat shows it: dates formatted, integers as longs.
fn show(v: &Value, sh: &Shown) -> Value {
    let Some(x) = v.as_f64() else {
        return match v {
            Value::String(s) if sh.kind == EsKind::Ip => {
                json!(crate::schema::document::render_ip(s))
            }
            other => other.clone(),
        };
    };
    if let Some(f) = &sh.date_format {
        return json!(crate::schema::dates::format_date(
            (x as i64).saturating_mul(1_000_000),
            f,
            None
        ));
    }
    if sh.kind.is_integer() && x.fract() == 0.0 {
        return json!(x as i64);
    }
    if sh.kind == EsKind::Boolean {
        return json!(x != 0.0);
    }
    json!(x)
}

/// InternalTopMetrics#doXContentBody: `{"top": [{"sort": [v], "metrics": {name: v}}]}`.
pub fn render_top_metrics(
    t: &TopMetrics,
    shown: &[Shown],
    col: Option<&Value>,
) -> Map<String, Value> {
    let mut top = Vec::new();
    if let Some(Value::Array(rows)) = col {
        for r in rows {
            let Some(r) = r.as_array() else { continue };
            let sort_v = r.get(1).cloned().unwrap_or(Value::Null);
            let sort_shown = if t.sort.is_score() {
                Shown {
                    kind: EsKind::Double,
                    date_format: None,
                }
            } else {
                shown[0].clone()
            };
            let mut metrics = Map::new();
            for (i, (name, sh)) in t.metrics.iter().zip(&shown[1..]).enumerate() {
                let v = r.get(2 + i).cloned().unwrap_or(Value::Null);
                metrics.insert(name.clone(), show(&v, sh));
            }
            top.push(json!({"sort": [show(&sort_v, &sort_shown)], "metrics": metrics}));
        }
    }
    let mut out = Map::new();
    out.insert("top".into(), Value::Array(top));
    out
}

/// InternalTopHits: a `hits` object shaped as search hits.
pub fn render_top_hits(
    t: &TopHits,
    shown: &[Shown],
    col: Option<&Value>,
    doc_count: u64,
) -> Map<String, Value> {
    let by_score = t.sort.is_empty();
    let has_score = by_score || t.sort.iter().any(SortSpec::is_score);
    let mut hits = Vec::new();
    let mut max_score: Option<f64> = None;
    if let Some(Value::Array(rows)) = col {
        for (i, r) in rows.iter().enumerate() {
            let Some(r) = r.as_array() else { continue };
            // Scores are Lucene floats, shown as Elasticsearch shows them (f32).
            let score = r.get(5).and_then(Value::as_f64).map(|x| x as f32 as f64);
            if has_score && let Some(s) = score {
                max_score = Some(max_score.map_or(s, |m: f64| m.max(s)));
            }
            if i < t.from {
                continue;
            }
            let mut h = Map::new();
            h.insert("_index".into(), r.get(2).cloned().unwrap_or(Value::Null));
            h.insert("_id".into(), r.get(3).cloned().unwrap_or(Value::Null));
            h.insert(
                "_score".into(),
                if has_score {
                    score.map_or(Value::Null, float_json)
                } else {
                    Value::Null
                },
            );
            if let Some(src) = r.get(4).and_then(Value::as_str)
                && let Some(raw) = t.source.apply(src)
                && let Ok(v) = serde_json::from_str::<Value>(raw.get())
            {
                h.insert("_source".into(), v);
            }
            if !by_score {
                let vals = r.get(1).and_then(Value::as_array);
                let sort: Vec<Value> = t
                    .sort
                    .iter()
                    .zip(shown)
                    .enumerate()
                    .map(|(j, (s, sh))| {
                        let v = vals.and_then(|a| a.get(j)).cloned().unwrap_or(Value::Null);
                        sort_value(&v, s, sh)
                    })
                    .collect();
                h.insert("sort".into(), Value::Array(sort));
            }
            hits.push(Value::Object(h));
        }
    }
    let mut inner = Map::new();
    inner.insert(
        "total".into(),
        json!({"value": doc_count, "relation": "eq"}),
    );
    inner.insert(
        "max_score".into(),
        max_score.map_or(Value::Null, float_json),
    );
    inner.insert("hits".into(), Value::Array(hits));
    let mut out = Map::new();
    out.insert("hits".into(), Value::Object(inner));
    out
}

/// A score as a Java float prints: the shortest text of the f32 (3.5607796, not 3.56077957…).
fn float_json(x: f64) -> Value {
    let f = x as f32;
    if !f.is_finite() {
        return Value::Null;
    }
    f.to_string()
        .parse::<f64>()
        .map(|v| json!(v))
        .unwrap_or(Value::Null)
}

/// A hit's raw sort value (FieldDoc): dates and integers as longs, missing values as the
/// substitute Elasticsearch sorts with (Long.MAX_VALUE/MIN_VALUE).
fn sort_value(v: &Value, s: &SortSpec, sh: &Shown) -> Value {
    if s.is_score() {
        return v.clone();
    }
    match v.as_f64() {
        Some(x) => {
            if sh.kind.is_integer()
                || matches!(sh.kind, EsKind::Date | EsKind::DateNanos | EsKind::Boolean)
            {
                json!(x as i64)
            } else {
                json!(x)
            }
        }
        None if v.is_null()
            && (sh.kind.is_integer() || matches!(sh.kind, EsKind::Date | EsKind::DateNanos)) =>
        {
            json!(if s.desc { i64::MIN } else { i64::MAX })
        }
        None => v.clone(),
    }
}
