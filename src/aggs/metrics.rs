//! Metric aggregations: avg, sum, min, max, value_count, cardinality, stats, extended_stats,
//! percentiles. Each metric becomes one or more aggregate columns of the grouping query of the
//! bucket level it lives in; `render` turns that row (or its absence: an empty bucket) into
//! Elasticsearch's JSON.

use super::{obj_keys_check, parse_err};
use crate::catalog::IndexMeta;
use crate::error::EsError;
use crate::plan::fields::{self, EsKind};
use crate::schema::json::java_double;
use crate::sql::{self, Expr};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub enum MetricKind {
    Avg,
    Sum,
    Min,
    Max,
    ValueCount,
    Cardinality {
        threshold: u64,
    },
    Stats,
    ExtendedStats {
        sigma: f64,
    },
    Percentiles {
        percents: Vec<f64>,
        keyed: bool,
    },
    TopMetrics(super::top::TopMetrics),
    TopHits(super::top::TopHits),
    GeoCentroid,
    GeoBounds {
        wrap: bool,
    },
    MedianAbsoluteDeviation,
    Boxplot,
    /// The distinct values of a field (for cumulative_cardinality; never requested directly).
    ValueSet,
    PercentileRanks {
        values: Vec<f64>,
        keyed: bool,
    },
    StringStats {
        distribution: bool,
    },
    WeightedAvg {
        weight: String,
        weight_missing: Option<Value>,
    },
    /// rate: the bucket's sum (or value count, or document count without a field), divided by
    /// the parent date_histogram bucket's size in `unit` when rendering.
    Rate {
        unit: Option<RateUnit>,
        value_count: bool,
    },
}

/// A rate unit (Rounding.DateTimeUnit): millisecond-based (length in ms) or month-based
/// (length in months).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateUnit {
    Millis(i64),
    Months(i64),
}

fn rate_unit(s: &str) -> Option<RateUnit> {
    Some(match s {
        "second" | "1s" => RateUnit::Millis(1000),
        "minute" | "1m" => RateUnit::Millis(60_000),
        "hour" | "1h" => RateUnit::Millis(3_600_000),
        "day" | "1d" => RateUnit::Millis(86_400_000),
        "week" | "1w" => RateUnit::Millis(7 * 86_400_000),
        "month" | "1M" => RateUnit::Months(1),
        "quarter" | "1q" => RateUnit::Months(3),
        "year" | "1y" => RateUnit::Months(12),
        _ => return None,
    })
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub ty: &'static str,
    pub kind: MetricKind,
    pub field: String,
    pub missing: Option<Value>,
    pub format: Option<String>,
}

pub const TYPES: [&str; 19] = [
    "rate",
    "avg",
    "sum",
    "min",
    "max",
    "value_count",
    "cardinality",
    "stats",
    "extended_stats",
    "percentiles",
    "top_metrics",
    "top_hits",
    "geo_centroid",
    "geo_bounds",
    "median_absolute_deviation",
    "string_stats",
    "weighted_avg",
    "percentile_ranks",
    "boxplot",
];

pub fn parse(ty: &'static str, body: &Map<String, Value>) -> Result<Metric, EsError> {
    let other = |kind: MetricKind, field: String| Metric {
        ty,
        kind,
        field,
        missing: None,
        format: None,
    };
    match ty {
        "top_metrics" => {
            let t = super::top::parse_top_metrics(body)?;
            let f = t.sort.field.clone();
            return Ok(other(MetricKind::TopMetrics(t), f));
        }
        "top_hits" => {
            let t = super::top::parse_top_hits(body)?;
            return Ok(other(MetricKind::TopHits(t), String::new()));
        }
        "rate" => {
            obj_keys_check(
                ty,
                body,
                &["field", "unit", "mode", "script", "missing", "format"],
            )?;
            for k in ["script", "format"] {
                if body.contains_key(k) {
                    return Err(EsError::unsupported(format!(
                        "[rate] aggregation with [{k}]"
                    )));
                }
            }
            let field = match body.get("field") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => return Err(parse_err(ty, "field", other)),
            };
            let unit =
                match body.get("unit") {
                    None => None,
                    Some(Value::String(u)) => Some(rate_unit(u).ok_or_else(|| {
                        EsError::illegal_argument(format!("Unsupported unit {u}"))
                    })?),
                    Some(other) => return Err(parse_err(ty, "unit", other)),
                };
            let value_count = match body.get("mode") {
                None => false,
                Some(Value::String(m)) if m == "sum" => false,
                Some(Value::String(m)) if m == "value_count" => true,
                Some(Value::String(m)) => {
                    return Err(EsError::illegal_argument(format!(
                        "No enum constant org.elasticsearch.xpack.analytics.rate.RateMode.{}",
                        m.to_uppercase()
                    )));
                }
                Some(other) => return Err(parse_err(ty, "mode", other)),
            };
            if value_count && field.is_empty() {
                return Err(EsError::illegal_argument(
                    "The mode parameter is only supported with field or script",
                ));
            }
            return Ok(Metric {
                ty,
                kind: MetricKind::Rate { unit, value_count },
                field,
                missing: body.get("missing").cloned(),
                format: None,
            });
        }
        "weighted_avg" => {
            obj_keys_check(ty, body, &["value", "weight", "format", "value_type"])?;
            let side = |k: &str| -> Result<(String, Option<Value>), EsError> {
                let Some(Value::Object(m)) = body.get(k) else {
                    return Err(EsError::illegal_argument(format!("Required [{k}]")));
                };
                obj_keys_check(k, m, &["field", "missing", "script"])?;
                if m.contains_key("script") {
                    return Err(EsError::unsupported("[weighted_avg] with [script]"));
                }
                match m.get("field") {
                    Some(Value::String(f)) => Ok((f.clone(), m.get("missing").cloned())),
                    _ => Err(EsError::illegal_argument(format!(
                        "[{k}] requires a [field]"
                    ))),
                }
            };
            let (field, missing) = side("value")?;
            let (weight, weight_missing) = side("weight")?;
            return Ok(Metric {
                ty,
                kind: MetricKind::WeightedAvg {
                    weight,
                    weight_missing,
                },
                field,
                missing,
                format: body
                    .get("format")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        "geo_centroid" | "geo_bounds" => {
            let mut keys = vec!["field", "script"];
            if ty == "geo_bounds" {
                keys.push("wrap_longitude");
            }
            obj_keys_check(ty, body, &keys)?;
            if body.contains_key("script") {
                return Err(EsError::unsupported(format!(
                    "[{ty}] aggregation with [script]"
                )));
            }
            let field = match body.get("field") {
                Some(Value::String(s)) => s.clone(),
                Some(o) => return Err(parse_err(ty, "field", o)),
                None => {
                    return Err(EsError::illegal_argument(
                        "Required one of fields [field, script], but none were specified. ",
                    ));
                }
            };
            let kind = if ty == "geo_centroid" {
                MetricKind::GeoCentroid
            } else {
                MetricKind::GeoBounds {
                    wrap: match body.get("wrap_longitude") {
                        None => true,
                        Some(Value::Bool(b)) => *b,
                        Some(o) => return Err(parse_err(ty, "wrap_longitude", o)),
                    },
                }
            };
            return Ok(other(kind, field));
        }
        _ => {}
    }
    let mut allowed = vec!["field", "missing", "format", "script", "value_type"];
    match ty {
        "cardinality" => allowed.extend(["precision_threshold", "execution_hint", "rehash"]),
        "extended_stats" => allowed.push("sigma"),
        "percentiles" => allowed.extend(["percents", "keyed", "tdigest", "hdr"]),
        "median_absolute_deviation" | "boxplot" => {
            allowed.extend(["compression", "execution_hint"])
        }
        "percentile_ranks" => allowed.extend(["values", "keyed", "tdigest", "hdr"]),
        "string_stats" => allowed.push("show_distribution"),
        _ => {}
    }
    obj_keys_check(ty, body, &allowed)?;
    if body.contains_key("script") {
        return Err(EsError::unsupported(format!(
            "[{ty}] aggregation with [script]"
        )));
    }
    if body.contains_key("hdr") {
        return Err(EsError::unsupported("[percentiles] aggregation with [hdr]"));
    }
    let field = match body.get("field") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(parse_err(ty, "field", other)),
        None => {
            return Err(EsError::illegal_argument(
                "Required one of fields [field, script], but none were specified. ",
            ));
        }
    };
    let kind = match ty {
        "avg" => MetricKind::Avg,
        "sum" => MetricKind::Sum,
        "min" => MetricKind::Min,
        "max" => MetricKind::Max,
        "value_count" => MetricKind::ValueCount,
        "cardinality" => {
            let threshold = match body.get("precision_threshold") {
                None => 3000,
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| parse_err(ty, "precision_threshold", v))?,
            };
            // CardinalityAggregationBuilder caps the threshold at 40000.
            MetricKind::Cardinality {
                threshold: threshold.min(40000),
            }
        }
        "stats" => MetricKind::Stats,
        "median_absolute_deviation" => MetricKind::MedianAbsoluteDeviation,
        "boxplot" => MetricKind::Boxplot,
        "percentile_ranks" => {
            let mut values = match body.get("values") {
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|v| v.as_f64().ok_or_else(|| parse_err(ty, "values", v)))
                    .collect::<Result<Vec<f64>, EsError>>()?,
                Some(Value::Array(_)) => {
                    return Err(EsError::illegal_argument(
                        "[values] must not be an empty array: [percentile_ranks]",
                    ));
                }
                Some(other) => return Err(parse_err(ty, "values", other)),
                None => {
                    return Err(EsError::illegal_argument(
                        "[values] must not be null: [percentile_ranks]",
                    ));
                }
            };
            // PercentileRanksAggregationBuilder sorts the values.
            values.sort_by(|a, b| a.total_cmp(b));
            let keyed = match body.get("keyed") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(parse_err(ty, "keyed", other)),
            };
            MetricKind::PercentileRanks { values, keyed }
        }
        "string_stats" => MetricKind::StringStats {
            distribution: match body.get("show_distribution") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(parse_err(ty, "show_distribution", other)),
            },
        },
        "extended_stats" => {
            let sigma = match body.get("sigma") {
                None => 2.0,
                Some(v) => v.as_f64().ok_or_else(|| parse_err(ty, "sigma", v))?,
            };
            if sigma < 0.0 {
                return Err(EsError::illegal_argument(
                    "[sigma] must be greater than or equal to 0. Found [".to_string()
                        + &java_double(sigma)
                        + "] in [extended_stats]",
                ));
            }
            MetricKind::ExtendedStats { sigma }
        }
        "percentiles" => {
            let percents = match body.get("percents") {
                None => vec![1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0],
                Some(Value::Array(a)) => {
                    let mut out = Vec::new();
                    for p in a {
                        let x = p.as_f64().ok_or_else(|| parse_err(ty, "percents", p))?;
                        if !(0.0..=100.0).contains(&x) {
                            return Err(EsError::illegal_argument(format!(
                                "percent must be in [0,100], got [{}]: [{}]",
                                java_double(x),
                                ty
                            )));
                        }
                        out.push(x);
                    }
                    if out.is_empty() {
                        return Err(EsError::illegal_argument(
                            "[percents] must not be empty: [percentiles]",
                        ));
                    }
                    out.sort_by(|a, b| a.total_cmp(b));
                    out.dedup();
                    out
                }
                Some(other) => return Err(parse_err(ty, "percents", other)),
            };
            let keyed = match body.get("keyed") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(parse_err(ty, "keyed", other)),
            };
            MetricKind::Percentiles { percents, keyed }
        }
        _ => unreachable!("metric type checked by the caller"),
    };
    Ok(Metric {
        ty,
        kind,
        field,
        missing: body.get("missing").cloned(),
        format: body
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Whether the metric needs numeric input (everything but value_count and cardinality).
fn numeric_only(m: &Metric) -> bool {
    !matches!(
        m.kind,
        MetricKind::Rate {
            value_count: true,
            ..
        } | MetricKind::ValueCount
            | MetricKind::Cardinality { .. }
            | MetricKind::StringStats { .. }
            | MetricKind::ValueSet
    )
}

/// How a metric reads its field across the searched indices.
#[derive(Debug, Clone)]
pub struct MetricInput {
    /// Some index holds several values per document: the input column is an array everywhere.
    pub array: bool,
    /// The field is a date in the first index that maps it (values are epoch millis).
    pub date_format: Option<String>,
    /// top_metrics / top_hits: how the sort fields and metrics are shown.
    pub shown: Vec<super::top::Shown>,
}

pub fn input_shape(
    m: &Metric,
    metas: &[std::sync::Arc<IndexMeta>],
) -> Result<MetricInput, EsError> {
    let mut array = false;
    let mut date_format = None;
    let mut first = true;
    let fields: Vec<&String> = match &m.kind {
        MetricKind::TopMetrics(t) => std::iter::once(&t.sort.field).chain(&t.metrics).collect(),
        MetricKind::TopHits(t) => t.sort.iter().map(|s| &s.field).collect(),
        _ => vec![],
    };
    if matches!(m.kind, MetricKind::StringStats { .. }) {
        for meta in metas {
            if let Some(f) = fields::resolve(meta, &m.field)
                && !matches!(f.kind, EsKind::Keyword | EsKind::ConstantKeyword)
            {
                if f.kind == EsKind::Text {
                    return Err(super::bucket::fielddata_error(&m.field));
                }
                return Err(EsError::illegal_argument(format!(
                    "Field [{}] of type [{}] is not supported for aggregation [string_stats]",
                    m.field, f.es_type
                )));
            }
        }
    }
    if matches!(
        m.kind,
        MetricKind::GeoCentroid | MetricKind::GeoBounds { .. } | MetricKind::WeightedAvg { .. }
    ) {
        return Ok(MetricInput {
            array: false,
            date_format: None,
            shown: vec![],
        });
    }
    if matches!(m.kind, MetricKind::TopMetrics(_) | MetricKind::TopHits(_)) {
        let mut shown = Vec::new();
        for f in fields {
            shown.push(super::top::shown(metas, f)?);
        }
        return Ok(MetricInput {
            array: false,
            date_format: None,
            shown,
        });
    }
    for meta in metas {
        if let Some(f) = fields::resolve(meta, &m.field) {
            if numeric_only(m)
                && !(f.kind.is_numeric()
                    || matches!(f.kind, EsKind::Date | EsKind::DateNanos | EsKind::Boolean))
            {
                return Err(EsError::illegal_argument(format!(
                    "Field [{}] of type [{}] is not supported for aggregation [{}]",
                    m.field, f.es_type, m.ty
                )));
            }
            if f.kind == EsKind::Text {
                return Err(super::bucket::fielddata_error(&m.field));
            }
            array |= f.is_array;
            if first && matches!(f.kind, EsKind::Date | EsKind::DateNanos) {
                date_format = Some(
                    f.format
                        .clone()
                        .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into()),
                );
            }
            first = false;
        }
    }
    Ok(MetricInput {
        array,
        date_format,
        shown: vec![],
    })
}

/// The metric's input expression in one index (scalar, or an array when `shape.array`).
pub fn input_expr(
    m: &Metric,
    meta: &IndexMeta,
    shape: &MetricInput,
    score: &Expr,
) -> Result<Expr, EsError> {
    match &m.kind {
        MetricKind::TopMetrics(t) => {
            return super::top::metrics_input(t, meta, &shape.shown, score);
        }
        // rate without a field counts documents.
        MetricKind::Rate { .. } if m.field.is_empty() => return Ok(sql::lit(1u64)),
        MetricKind::TopHits(t) => return super::top::hits_input(t, meta, &shape.shown, score),
        MetricKind::GeoCentroid | MetricKind::GeoBounds { .. } => {
            return super::geo::points_expr(meta, &m.field, m.ty);
        }
        MetricKind::WeightedAvg {
            weight,
            weight_missing,
        } => {
            // (value · weight, weight) of documents having both (or their `missing`).
            let side = |field: &str, missing: &Option<Value>| -> Result<Expr, EsError> {
                let Some(f) = fields::resolve(meta, field) else {
                    return Ok(match missing {
                        Some(v) => sql::lit(v.as_f64().unwrap_or(0.0)),
                        None => sql::null(),
                    });
                };
                if f.is_array {
                    return Err(EsError::unsupported(format!(
                        "[weighted_avg] on the multi-valued field [{field}]"
                    )));
                }
                if !f.kind.is_numeric() {
                    return Err(EsError::illegal_argument(format!(
                        "Field [{field}] of type [{}] is not supported for aggregation [weighted_avg]",
                        f.es_type
                    )));
                }
                let c = Expr::func("toFloat64", vec![f.column_expr()]);
                Ok(match missing {
                    Some(v) => Expr::func("ifNull", vec![c, sql::lit(v.as_f64().unwrap_or(0.0))]),
                    None => c,
                })
            };
            let v = side(&m.field, &m.missing)?;
            let w = side(weight, weight_missing)?;
            return Ok(sql::tuple(vec![
                Expr::func("multiply", vec![v.clone(), w.clone()]),
                Expr::func("if", vec![v.is_null(), sql::null(), w]),
            ]));
        }
        _ => {}
    }
    let Some(f) = fields::resolve(meta, &m.field) else {
        return Ok(if shape.array {
            sql::array(vec![])
        } else {
            sql::null()
        });
    };
    let numeric = numeric_only(m);
    // cardinality only hashes its values: an ip is hashed as its 16 bytes (formatting every
    // address as text first cost 10× the aggregation at 10M documents); `toIPv6` gives every index
    // the same type (an existing table may hold IPv4). With `missing` the value is text, so the
    // column is read as text too.
    let ip_as_is = matches!(m.kind, MetricKind::Cardinality { .. }) && m.missing.is_none();
    let conv = |e: Expr| -> Expr {
        match f.kind {
            EsKind::Date | EsKind::DateNanos => Expr::func("toUnixTimestamp64Milli", vec![e]),
            EsKind::Boolean => Expr::func("toUInt8", vec![e]),
            EsKind::Ip if ip_as_is => Expr::func("toIPv6", vec![e]),
            EsKind::Ip if !numeric => Expr::func("toString", vec![e]),
            _ if numeric => Expr::func("toFloat64", vec![e]),
            _ => e,
        }
    };
    let missing = match &m.missing {
        None => None,
        Some(v) => Some(super::bucket::missing_literal(&f, v)?),
    };
    let c = f.column_expr();
    Ok(match (f.is_array, shape.array) {
        (true, _) => {
            let mapped = Expr::func(
                "arrayMap",
                vec![sql::lambda(["x"], conv(sql::col("x"))), c.clone()],
            );
            match missing {
                Some(mv) => Expr::func(
                    "if",
                    vec![
                        Expr::func("empty", vec![c]),
                        sql::array(vec![conv(mv)]),
                        mapped,
                    ],
                ),
                None => mapped,
            }
        }
        (false, array) => {
            let v = match missing {
                Some(mv) => conv(Expr::func("ifNull", vec![c, mv])),
                None => conv(c),
            };
            if array {
                Expr::func(
                    "if",
                    vec![v.clone().is_null(), sql::array(vec![]), sql::array(vec![v])],
                )
            } else {
                v
            }
        }
    })
}

fn agg_fn(base: &str, array: bool) -> &'static str {
    match (base, array) {
        ("avg", false) => "avgOrNull",
        ("avg", true) => "avgArrayOrNull",
        ("sum", false) => "sum",
        ("sum", true) => "sumArray",
        ("min", false) => "minOrNull",
        ("min", true) => "minArrayOrNull",
        ("max", false) => "maxOrNull",
        ("max", true) => "maxArrayOrNull",
        ("count", false) => "count",
        ("count", true) => "countArray",
        ("uniqExact", false) => "uniqExact",
        ("uniqExact", true) => "uniqExactArray",
        ("uniqCombined64", false) => "uniqCombined64",
        ("uniqCombined64", true) => "uniqCombined64Array",
        ("quantiles", false) => "quantilesExactInclusive",
        ("quantiles", true) => "quantilesExactInclusiveArray",
        _ => unreachable!("aggregate function table"),
    }
}

/// The aggregate columns of a metric reading input column `v`, named `{p}_…`.
pub fn columns(m: &Metric, v: &str, array: bool, p: &str) -> Vec<sql::SelectItem> {
    let x = sql::col(v);
    let f = |base: &str| Expr::func(agg_fn(base, array), vec![x.clone()]);
    let sq = || {
        if array {
            Expr::func(
                "sumArray",
                vec![Expr::func(
                    "arrayMap",
                    vec![
                        sql::lambda(
                            ["y"],
                            Expr::func("multiply", vec![sql::col("y"), sql::col("y")]),
                        ),
                        x.clone(),
                    ],
                )],
            )
        } else {
            Expr::func(
                "sum",
                vec![Expr::func("multiply", vec![x.clone(), x.clone()])],
            )
        }
    };
    match &m.kind {
        MetricKind::Avg => vec![f("avg").alias(format!("{p}_v"))],
        MetricKind::Sum
        | MetricKind::Rate {
            value_count: false, ..
        } => vec![f("sum").alias(format!("{p}_v"))],
        MetricKind::Rate {
            value_count: true, ..
        } => vec![Expr::func("toFloat64", vec![f("count")]).alias(format!("{p}_v"))],
        MetricKind::Min => vec![f("min").alias(format!("{p}_v"))],
        MetricKind::Max => vec![f("max").alias(format!("{p}_v"))],
        MetricKind::ValueCount => vec![f("count").alias(format!("{p}_v"))],
        // uniqCombined64 counts exactly while it holds few values (its array and hash-table
        // modes; checked up to 3000 distinct values), then switches to HyperLogLog: the same
        // promise as Elasticsearch's HyperLogLog++ below `precision_threshold` (default 3000).
        // Above 3000 the exact count is computed beside it.
        MetricKind::Cardinality { threshold } if *threshold <= 3000 => {
            vec![f("uniqCombined64").alias(format!("{p}_a"))]
        }
        MetricKind::Cardinality { .. } => vec![
            f("uniqExact").alias(format!("{p}_e")),
            f("uniqCombined64").alias(format!("{p}_a")),
        ],
        MetricKind::Stats | MetricKind::ExtendedStats { .. } => {
            let mut out = vec![
                f("count").alias(format!("{p}_c")),
                f("min").alias(format!("{p}_min")),
                f("max").alias(format!("{p}_max")),
                f("sum").alias(format!("{p}_sum")),
            ];
            if matches!(m.kind, MetricKind::ExtendedStats { .. }) {
                out.push(sq().alias(format!("{p}_sq")));
            }
            out
        }
        MetricKind::GeoCentroid => super::geo::centroid_columns(x.clone(), p),
        MetricKind::WeightedAvg { .. } => {
            let el = |i: u64| Expr::func("tupleElement", vec![x.clone(), sql::lit(i)]);
            vec![
                Expr::func("sum", vec![el(1)]).alias(format!("{p}_s")),
                Expr::func("sum", vec![el(2)]).alias(format!("{p}_w")),
            ]
        }
        MetricKind::MedianAbsoluteDeviation => {
            // median(|x − median(x)|) over the bucket's values (exact, as Elasticsearch's
            // digest is for small sets).
            let g = Expr::func(
                if array {
                    "groupArrayArray"
                } else {
                    "groupArray"
                },
                vec![x.clone()],
            );
            let median = |a: Expr| {
                Expr::func(
                    "arrayReduce",
                    vec![sql::lit("quantileExactInclusive(0.5)"), a],
                )
            };
            let dev = Expr::func(
                "arrayMap",
                vec![
                    sql::lambda(
                        ["y"],
                        Expr::func(
                            "abs",
                            vec![Expr::func("minus", vec![sql::col("y"), median(g.clone())])],
                        ),
                    ),
                    g.clone(),
                ],
            );
            vec![
                median(dev).alias(format!("{p}_v")),
                Expr::func("length", vec![g]).alias(format!("{p}_n")),
            ]
        }
        MetricKind::ValueSet => vec![
            Expr::func(
                if array {
                    "groupUniqArrayArray"
                } else {
                    "groupUniqArray"
                },
                vec![x.clone()],
            )
            .alias(format!("{p}_set")),
        ],
        MetricKind::Boxplot => {
            // Quartiles as percentiles (exact interpolation at q·(n−1)); whiskers: the smallest
            // value ≥ q1 − 1.5·IQR and the largest ≤ q3 + 1.5·IQR (InternalBoxplot#whiskers).
            let g = Expr::func(
                if array {
                    "groupArrayArray"
                } else {
                    "groupArray"
                },
                vec![x.clone()],
            );
            let q = |p: f64| {
                Expr::func(
                    "arrayReduce",
                    vec![sql::lit(format!("quantileExactInclusive({p})")), g.clone()],
                )
            };
            let iqr = Expr::func("minus", vec![q(0.75), q(0.25)]);
            let fence = |up: bool| {
                let edge = if up {
                    Expr::func(
                        "plus",
                        vec![
                            q(0.75),
                            Expr::func("multiply", vec![sql::lit(1.5), iqr.clone()]),
                        ],
                    )
                } else {
                    Expr::func(
                        "minus",
                        vec![
                            q(0.25),
                            Expr::func("multiply", vec![sql::lit(1.5), iqr.clone()]),
                        ],
                    )
                };
                let cond = if up {
                    sql::col("y").lte(edge)
                } else {
                    sql::col("y").gte(edge)
                };
                Expr::func(
                    if up { "arrayMax" } else { "arrayMin" },
                    vec![Expr::func(
                        "arrayFilter",
                        vec![sql::lambda(["y"], cond), g.clone()],
                    )],
                )
            };
            vec![
                Expr::func("length", vec![g.clone()]).alias(format!("{p}_n")),
                Expr::func("arrayMin", vec![g.clone()]).alias(format!("{p}_min")),
                Expr::func("arrayMax", vec![g.clone()]).alias(format!("{p}_max")),
                q(0.25).alias(format!("{p}_q1")),
                q(0.5).alias(format!("{p}_q2")),
                q(0.75).alias(format!("{p}_q3")),
                fence(false).alias(format!("{p}_lo")),
                fence(true).alias(format!("{p}_up")),
            ]
        }
        MetricKind::PercentileRanks { values, .. } => {
            // Dist.cdf of Elasticsearch's t-digest on all (sorted) values: 0 below the
            // smallest; otherwise (0.5 + #{s[2..] < x} + interpolation towards the next larger
            // value, or + #{= x}/2 when x is a value), / n.
            let g = Expr::func(
                if array {
                    "groupArrayArray"
                } else {
                    "groupArray"
                },
                vec![x.clone()],
            );
            let sorted = Expr::func("arraySort", vec![g]);
            let n = Expr::func(
                "toFloat64",
                vec![Expr::func("length", vec![sorted.clone()])],
            );
            let rest = Expr::func("arrayPopFront", vec![sorted.clone()]);
            let at = |i: Expr| Expr::func("arrayElement", vec![sorted.clone(), i]);
            let mut out = vec![n.clone().alias(format!("{p}_n"))];
            for (i, v) in values.iter().enumerate() {
                let xv = sql::lit(*v);
                let lt = Expr::func(
                    "arrayCount",
                    vec![
                        sql::lambda(["y"], sql::col("y").lt(xv.clone())),
                        rest.clone(),
                    ],
                );
                let eq = Expr::func(
                    "arrayCount",
                    vec![
                        sql::lambda(["y"], sql::col("y").eq(xv.clone())),
                        rest.clone(),
                    ],
                );
                let j = Expr::func(
                    "arrayFirstIndex",
                    vec![
                        sql::lambda(["y"], sql::col("y").gt(xv.clone())),
                        sorted.clone(),
                    ],
                );
                let prev = at(Expr::func("minus", vec![j.clone(), sql::lit(1u64)]));
                let factor = Expr::func(
                    "divide",
                    vec![
                        Expr::func("minus", vec![xv.clone(), prev.clone()]),
                        Expr::func("minus", vec![at(j.clone()), prev]),
                    ],
                );
                let half = |e: Expr| Expr::func("multiply", vec![sql::lit(0.5), e]);
                let plus = |a: Expr, b: Expr| Expr::func("plus", vec![a, b]);
                let cdf = sql::case(
                    vec![
                        (n.clone().eq(sql::lit(0u64)), sql::lit(f64::NAN)),
                        (xv.clone().lt(at(sql::lit(1u64))), sql::lit(0.0)),
                        (
                            j.clone().eq(sql::lit(0u64)),
                            Expr::func(
                                "divide",
                                vec![
                                    Expr::func("minus", vec![n.clone(), half(eq.clone())]),
                                    n.clone(),
                                ],
                            ),
                        ),
                        (
                            eq.clone().gt(sql::lit(0u64)),
                            Expr::func(
                                "divide",
                                vec![plus(plus(sql::lit(0.5), lt.clone()), half(eq)), n.clone()],
                            ),
                        ),
                    ],
                    Some(Expr::func(
                        "divide",
                        vec![plus(plus(sql::lit(0.5), lt), factor), n.clone()],
                    )),
                );
                out.push(cdf.alias(format!("{p}_r{i}")));
            }
            out
        }
        MetricKind::StringStats { .. } => {
            let s = sql::col("ss");
            let lens = if array {
                Expr::func(
                    "arrayMap",
                    vec![
                        sql::lambda(["ss"], Expr::func("lengthUTF8", vec![s.clone()])),
                        x.clone(),
                    ],
                )
            } else {
                Expr::func("lengthUTF8", vec![x.clone()])
            };
            let chars = if array {
                Expr::func(
                    "arrayFlatten",
                    vec![Expr::func(
                        "arrayMap",
                        vec![
                            sql::lambda(
                                ["ss"],
                                Expr::func("ngrams", vec![s.clone(), sql::lit(1u64)]),
                            ),
                            x.clone(),
                        ],
                    )],
                )
            } else {
                Expr::func(
                    "ngrams",
                    vec![
                        Expr::func("ifNull", vec![x.clone(), sql::lit("")]),
                        sql::lit(1u64),
                    ],
                )
            };
            let ones = Expr::func(
                "arrayMap",
                vec![sql::lambda(["ch"], sql::lit(1u64)), chars.clone()],
            );
            vec![
                f("count").alias(format!("{p}_c")),
                Expr::func(agg_fn("min", array), vec![lens.clone()]).alias(format!("{p}_min")),
                Expr::func(agg_fn("max", array), vec![lens.clone()]).alias(format!("{p}_max")),
                Expr::func(agg_fn("sum", array), vec![lens]).alias(format!("{p}_sum")),
                Expr::func("sumMap", vec![chars, ones]).alias(format!("{p}_d")),
            ]
        }
        MetricKind::GeoBounds { .. } => super::geo::bounds_columns(x.clone(), p),
        MetricKind::TopMetrics(t) => {
            vec![super::top::column(x.clone(), t.size, true).alias(format!("{p}_t"))]
        }
        MetricKind::TopHits(t) => {
            vec![super::top::column(x.clone(), t.from + t.size, false).alias(format!("{p}_t"))]
        }
        MetricKind::Percentiles { percents, .. } => {
            let params = percents.iter().map(|p| sql::lit(p / 100.0)).collect();
            vec![
                sql::func_params(agg_fn("quantiles", array), params, vec![x.clone()])
                    .alias(format!("{p}_q")),
            ]
        }
    }
}

fn num(row: Option<&Map<String, Value>>, key: &str) -> Option<f64> {
    row?.get(key).and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn as_string(date: Option<&String>, format: Option<&String>, x: f64) -> Option<Value> {
    if let Some(df) = date {
        let f = format.unwrap_or(df);
        return Some(Value::String(crate::schema::dates::format_date(
            (x as i64).saturating_mul(1_000_000),
            f,
            None,
        )));
    }
    None
}

fn finite(x: Option<f64>) -> Value {
    match x {
        Some(v) if v.is_finite() => json!(v),
        _ => Value::Null,
    }
}

/// The JSON body of a metric for one bucket (`row` is `None` for an empty bucket).
pub fn render(
    m: &Metric,
    shape: &MetricInput,
    row: Option<&Map<String, Value>>,
    p: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    let date = shape.date_format.as_ref();
    let fmt = m.format.as_ref();
    let single = |out: &mut Map<String, Value>, v: Option<f64>| {
        out.insert("value".into(), finite(v));
        if let Some(x) = v.filter(|x| x.is_finite())
            && let Some(s) = as_string(date, fmt, x)
        {
            out.insert("value_as_string".into(), s);
        }
    };
    match &m.kind {
        MetricKind::Avg | MetricKind::Min | MetricKind::Max => {
            single(&mut out, num(row, &format!("{p}_v")))
        }
        MetricKind::Sum => single(&mut out, Some(num(row, &format!("{p}_v")).unwrap_or(0.0))),
        // Divided by the parent bucket's size by the date_histogram that renders it.
        MetricKind::Rate { .. } => {
            out.insert(
                "value".into(),
                json!(num(row, &format!("{p}_v")).unwrap_or(0.0)),
            );
        }
        MetricKind::ValueCount => {
            out.insert(
                "value".into(),
                json!(num(row, &format!("{p}_v")).unwrap_or(0.0) as u64),
            );
        }
        MetricKind::Cardinality { threshold } => {
            let approx = num(row, &format!("{p}_a")).unwrap_or(0.0) as u64;
            let exact = num(row, &format!("{p}_e")).map_or(approx, |e| e as u64);
            // Exact up to the precision threshold, as Elasticsearch promises; approximate above.
            let v = if exact <= *threshold { exact } else { approx };
            out.insert("value".into(), json!(v));
        }
        MetricKind::Stats | MetricKind::ExtendedStats { .. } => {
            let count = num(row, &format!("{p}_c")).unwrap_or(0.0);
            let sum = num(row, &format!("{p}_sum")).unwrap_or(0.0);
            let min = num(row, &format!("{p}_min"));
            let max = num(row, &format!("{p}_max"));
            out.insert("count".into(), json!(count as u64));
            let has = count > 0.0;
            let avg = has.then(|| sum / count);
            out.insert("min".into(), if has { finite(min) } else { Value::Null });
            out.insert("max".into(), if has { finite(max) } else { Value::Null });
            out.insert("avg".into(), finite(avg));
            out.insert("sum".into(), json!(if has { sum } else { 0.0 }));
            let mut strings = Vec::new();
            if has {
                for (k, v) in [("min", min), ("max", max), ("avg", avg), ("sum", Some(sum))] {
                    if let Some(x) = v
                        && let Some(s) = as_string(date, fmt, x)
                    {
                        strings.push((format!("{k}_as_string"), s));
                    }
                }
            }
            if let MetricKind::ExtendedStats { sigma } = m.kind {
                let sq = num(row, &format!("{p}_sq")).unwrap_or(0.0);
                let var_pop = has.then(|| (sq / count - (sum / count).powi(2)).max(0.0));
                let var_samp =
                    (count > 1.0).then(|| ((sq - sum * sum / count) / (count - 1.0)).max(0.0));
                out.insert(
                    "sum_of_squares".into(),
                    if has { json!(sq) } else { Value::Null },
                );
                out.insert("variance".into(), finite(var_pop));
                out.insert("variance_population".into(), finite(var_pop));
                out.insert(
                    "variance_sampling".into(),
                    if has {
                        finite(Some(var_samp.unwrap_or(f64::INFINITY)))
                    } else {
                        Value::Null
                    },
                );
                let sd = var_pop.map(f64::sqrt);
                let sds = var_samp.map(f64::sqrt);
                out.insert("std_deviation".into(), finite(sd));
                out.insert("std_deviation_population".into(), finite(sd));
                out.insert("std_deviation_sampling".into(), finite(sds));
                let b = |s: Option<f64>, up: bool| {
                    finite(
                        avg.zip(s)
                            .map(|(a, s)| if up { a + sigma * s } else { a - sigma * s }),
                    )
                };
                out.insert(
                    "std_deviation_bounds".into(),
                    json!({
                        "upper": b(sd, true), "lower": b(sd, false),
                        "upper_population": b(sd, true), "lower_population": b(sd, false),
                        "upper_sampling": b(sds, true), "lower_sampling": b(sds, false),
                    }),
                );
            }
            for (k, s) in strings {
                out.insert(k, s);
            }
        }
        MetricKind::GeoCentroid => out = super::geo::render_centroid(row, p),
        MetricKind::WeightedAvg { .. } => {
            let s = num(row, &format!("{p}_s")).unwrap_or(0.0);
            let w = num(row, &format!("{p}_w")).unwrap_or(0.0);
            single(&mut out, (w != 0.0).then(|| s / w));
        }
        MetricKind::MedianAbsoluteDeviation => {
            let n = num(row, &format!("{p}_n")).unwrap_or(0.0);
            single(
                &mut out,
                if n > 0.0 {
                    num(row, &format!("{p}_v"))
                } else {
                    None
                },
            );
        }
        MetricKind::StringStats { distribution } => {
            // InternalStringStats: entropy = −Σ p·log2 p over the characters of all values.
            let count = num(row, &format!("{p}_c")).unwrap_or(0.0) as u64;
            let total = num(row, &format!("{p}_sum")).unwrap_or(0.0);
            let mut freq: Vec<(String, f64)> = Vec::new();
            if let Some(Value::Array(d)) = row.and_then(|r| r.get(&format!("{p}_d")))
                && let (Some(Value::Array(ks)), Some(Value::Array(vs))) = (d.first(), d.get(1))
            {
                for (k, v) in ks.iter().zip(vs) {
                    freq.push((
                        k.as_str().unwrap_or_default().to_string(),
                        v.as_f64().unwrap_or(0.0),
                    ));
                }
            }
            let entropy: f64 = freq
                .iter()
                .filter(|(_, c)| *c > 0.0)
                .map(|(_, c)| {
                    let q = c / total;
                    -q * q.log2()
                })
                .sum();
            out.insert("count".into(), json!(count));
            let has = count > 0;
            out.insert(
                "min_length".into(),
                if has {
                    json!(num(row, &format!("{p}_min")).unwrap_or(0.0) as u64)
                } else {
                    Value::Null
                },
            );
            out.insert(
                "max_length".into(),
                if has {
                    json!(num(row, &format!("{p}_max")).unwrap_or(0.0) as u64)
                } else {
                    Value::Null
                },
            );
            out.insert(
                "avg_length".into(),
                if has {
                    json!(total / count as f64)
                } else {
                    Value::Null
                },
            );
            out.insert(
                "entropy".into(),
                json!(if total > 0.0 { entropy } else { 0.0 }),
            );
            if *distribution {
                freq.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                let mut m = Map::new();
                for (k, c) in freq {
                    m.insert(k, json!(c / total));
                }
                out.insert("distribution".into(), Value::Object(m));
            }
        }
        MetricKind::GeoBounds { wrap } => out = super::geo::render_bounds(row, p, *wrap),
        MetricKind::TopMetrics(t) => {
            out = super::top::render_top_metrics(
                t,
                &shape.shown,
                row.and_then(|r| r.get(&format!("{p}_t"))),
            );
        }
        MetricKind::TopHits(t) => {
            let n = row
                .and_then(|r| r.get("_c"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            out = super::top::render_top_hits(
                t,
                &shape.shown,
                row.and_then(|r| r.get(&format!("{p}_t"))),
                n,
            );
        }
        MetricKind::ValueSet => {
            out.insert(
                "values".into(),
                row.and_then(|r| r.get(&format!("{p}_set")))
                    .cloned()
                    .unwrap_or(Value::Array(vec![])),
            );
        }
        MetricKind::Boxplot => {
            let has = num(row, &format!("{p}_n")).unwrap_or(0.0) > 0.0;
            for (k, c) in [
                ("min", "min"),
                ("max", "max"),
                ("q1", "q1"),
                ("q2", "q2"),
                ("q3", "q3"),
                ("lower", "lo"),
                ("upper", "up"),
            ] {
                let v = if has {
                    num(row, &format!("{p}_{c}"))
                } else {
                    None
                };
                out.insert(k.into(), finite(v));
            }
        }
        MetricKind::PercentileRanks { values, keyed } => {
            // InternalTDigestPercentileRanks: 100 · cdf clamped to [0, 100]; null without values.
            let has = num(row, &format!("{p}_n")).unwrap_or(0.0) > 0.0;
            let rank = |i: usize| -> Value {
                match num(row, &format!("{p}_r{i}")) {
                    Some(c) if has && c.is_finite() => json!(c.clamp(0.0, 1.0) * 100.0),
                    _ => Value::Null,
                }
            };
            if *keyed {
                let mut m = Map::new();
                for (i, v) in values.iter().enumerate() {
                    m.insert(java_double(*v), rank(i));
                }
                out.insert("values".into(), Value::Object(m));
            } else {
                let list: Vec<Value> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| json!({"key": v, "value": rank(i)}))
                    .collect();
                out.insert("values".into(), Value::Array(list));
            }
        }
        MetricKind::Percentiles { percents, keyed } => {
            let vals: Vec<Option<f64>> = match row.and_then(|r| r.get(&format!("{p}_q"))) {
                Some(Value::Array(a)) if num(row, &format!("{p}_nonempty")).is_none() => {
                    a.iter().map(Value::as_f64).collect()
                }
                _ => vec![None; percents.len()],
            };
            // quantiles of no value come back as nan (rendered null by ClickHouse's JSON).
            if *keyed {
                let mut values = Map::new();
                for (pc, v) in percents.iter().zip(&vals) {
                    values.insert(java_double(*pc), finite(*v));
                    if let Some(x) = v
                        && let Some(s) = as_string(date, fmt, *x)
                    {
                        values.insert(format!("{}_as_string", java_double(*pc)), s);
                    }
                }
                out.insert("values".into(), Value::Object(values));
            } else {
                let list: Vec<Value> = percents
                    .iter()
                    .zip(&vals)
                    .map(|(pc, v)| {
                        let mut e = Map::new();
                        e.insert("key".into(), json!(pc));
                        e.insert("value".into(), finite(*v));
                        if let Some(x) = v
                            && let Some(s) = as_string(date, fmt, *x)
                        {
                            e.insert("value_as_string".into(), s);
                        }
                        Value::Object(e)
                    })
                    .collect();
                out.insert("values".into(), Value::Array(list));
            }
        }
    }
    out
}

/// A single number a `buckets_path` can read from a rendered metric (`.value`, `.avg`, `.99`).
pub fn path_value(body: &Value, sub: Option<&str>) -> Option<f64> {
    match sub {
        None => body.get("value").and_then(Value::as_f64),
        Some(k) => {
            if let Some(v) = body.get(k) {
                return v.as_f64();
            }
            let values = body.get("values")?;
            let pc: f64 = k.parse().ok()?;
            match values {
                Value::Object(m) => m.get(&java_double(pc)).and_then(Value::as_f64),
                Value::Array(a) => a
                    .iter()
                    .find(|e| e.get("key").and_then(Value::as_f64) == Some(pc))
                    .and_then(|e| e.get("value"))
                    .and_then(Value::as_f64),
                _ => None,
            }
        }
    }
}
