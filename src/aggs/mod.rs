//! Aggregations: the request tree, its translation into as few ClickHouse queries as possible,
//! and the assembly of Elasticsearch's `aggregations` response. See `docs/aggregations.md`.
//!
//! # How a tree becomes SQL
//!
//! Every bucket aggregation contributes *key columns*: a value per document (terms, histogram,
//! date_histogram; exploded with `arrayJoin` for multi-valued fields) or a 0/1 condition (filter,
//! each range and each filter of `filters`, missing). A bucket *level* is the list of keys on the
//! path from the root to it; its buckets are the groups of `GROUP BY <those keys>`. All levels that
//! read the same rows (same scope — query or `global` — and same exploded keys) are computed by
//! one `SELECT … GROUP BY GROUPING SETS (…)`, with every metric as an aggregate column and
//! `grouping()` telling which level a row belongs to. A Kibana `date_histogram × terms × metrics`
//! request is therefore one query. Sizes, orders, empty buckets and pipelines are applied in Rust
//! on the (small) grouped rows, as Elasticsearch's coordinating node does on shard results.

pub mod bucket;
pub mod geo;
pub mod metrics;
pub mod pipeline;
pub mod top;

use crate::catalog::IndexMeta;
use crate::clickhouse::ClickHouse;
use crate::error::EsError;
use crate::plan::{self, Ctx, fields};
use crate::schema::json::java_double;
use crate::sql::{self, Expr, FromClause, Select};
use bucket::{Bucket, OrderKey};
use metrics::{Metric, MetricInput};
use pipeline::Pipeline;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One aggregation of the request.
#[derive(Debug, Clone)]
pub struct Agg {
    pub name: String,
    pub meta: Option<Value>,
    pub kind: Kind,
    pub subs: Vec<Agg>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Metric(Metric),
    Bucket(Bucket),
    Pipeline(Pipeline),
}

/// Aggregation types of Elasticsearch that elastichouse does not implement yet: a clear 400.
const NOT_YET: [&str; 12] = [
    "significant_text",
    "variable_width_histogram",
    "geohex_grid",
    "children",
    "parent",
    "geo_line",
    "scripted_metric",
    "t_test",
    "matrix_stats",
    "inference",
    "categorize_text",
    "frequent_item_sets",
];

pub(crate) fn parse_err(ty: &str, key: &str, v: &Value) -> EsError {
    EsError::x_content_parse(format!(
        "[{ty}] failed to parse field [{key}]: unexpected value [{}]",
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    ))
}

/// Unknown parameters are errors, as ObjectParser reports them.
pub(crate) fn obj_keys_check(
    ty: &str,
    body: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), EsError> {
    for k in body.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(EsError::x_content_parse(format!(
                "[{ty}] unknown field [{k}]"
            )));
        }
    }
    Ok(())
}

fn type_name(ty: &str) -> Option<&'static str> {
    metrics::TYPES
        .iter()
        .chain(bucket::TYPES.iter())
        .chain(pipeline::TYPES.iter())
        .find(|t| **t == ty)
        .copied()
}

/// Whether some aggregation of the tree reads the query's `_score` (top_hits / top_metrics sorted
/// by it): only then does the search translate the query's scoring for the aggregations.
pub fn needs_score(aggs: &[Agg]) -> bool {
    aggs.iter().any(|a| {
        let own = match &a.kind {
            Kind::Metric(m) => match &m.kind {
                metrics::MetricKind::TopHits(t) => {
                    t.sort.is_empty() || t.sort.iter().any(|s| s.field == "_score")
                }
                metrics::MetricKind::TopMetrics(t) => t.sort.field == "_score",
                _ => false,
            },
            // sampler keeps the best-scoring documents.
            Kind::Bucket(Bucket::Sampler(bucket::Sampler::Top { .. })) => true,
            _ => false,
        };
        own || needs_score(&a.subs)
    })
}

/// How deep aggregations may nest. Elasticsearch has no bound of its own (search.max_buckets
/// limits what deep trees produce); elastichouse's planning and rendering recurse per level with
/// large frames, and 16 levels (Kibana nests a handful) stay well inside a 2 MiB worker stack even
/// in debug builds (tests/it/hostile.rs runs a search at the bound and past it).
pub const MAX_DEPTH: usize = 16;

/// Parses the `aggs`/`aggregations` object of a search body (AggregatorFactories#parseAggregators).
pub fn parse(v: &Value, now_millis: i64) -> Result<Vec<Agg>, EsError> {
    parse_level(v, now_millis, 0)
}

fn parse_level(v: &Value, now: i64, depth: usize) -> Result<Vec<Agg>, EsError> {
    let Value::Object(m) = v else {
        return Err(EsError::parsing(format!(
            "Unexpected token {} in [aggs].",
            crate::schema::json::java_value(v)
        )));
    };
    if depth >= MAX_DEPTH {
        return Err(EsError::illegal_argument(format!(
            "aggregations are nested deeper than elastichouse's limit of [{MAX_DEPTH}] levels"
        )));
    }
    let mut out = Vec::new();
    for (name, def) in m {
        if name.is_empty() || name.contains(['[', ']', '>']) {
            return Err(EsError::parsing(format!(
                "Invalid aggregation name [{name}]. Aggregation names can contain any character except '[', ']', and '>'"
            )));
        }
        let Value::Object(def) = def else {
            return Err(EsError::parsing(format!(
                "Aggregation definition for [{name} starts with a [{}], expected a [START_OBJECT].",
                token(def)
            )));
        };
        let mut meta = None;
        let mut subs_def: Option<&Value> = None;
        let mut ty_def: Option<(&str, &Value)> = None;
        for (k, val) in def {
            match k.as_str() {
                "meta" => {
                    if !val.is_object() {
                        return Err(EsError::parsing(format!(
                            "Expected [START_OBJECT] under [meta], but got a [{}] in [{name}]",
                            token(val)
                        )));
                    }
                    meta = Some(val.clone());
                }
                "aggs" | "aggregations" => {
                    if subs_def.is_some() {
                        return Err(EsError::parsing(format!(
                            "Found two sub aggregation definitions under [{name}]"
                        )));
                    }
                    if !val.is_object() {
                        return Err(EsError::parsing(format!(
                            "Expected [START_OBJECT] under [{k}], but got a [{}] in [{name}]",
                            token(val)
                        )));
                    }
                    subs_def = Some(val);
                }
                ty => {
                    if let Some((first, _)) = ty_def {
                        return Err(EsError::parsing(format!(
                            "Found two aggregation type definitions in [{name}]: [{first}] and [{ty}]"
                        )));
                    }
                    ty_def = Some((ty, val));
                }
            }
        }
        let Some((ty, body)) = ty_def else {
            return Err(EsError::parsing(format!(
                "Missing definition for aggregation [{name}]"
            )));
        };
        let Some(known) = type_name(ty) else {
            if NOT_YET.contains(&ty) {
                return Err(EsError::unsupported(format!(
                    "aggregation [{name}] of type [{ty}]"
                )));
            }
            return Err(
                EsError::parsing(format!("Unknown aggregation type [{ty}]")).caused_by(
                    EsError::new(
                        400,
                        "named_object_not_found_exception",
                        format!("unknown field [{ty}]"),
                    ),
                ),
            );
        };
        let Value::Object(body) = body else {
            return Err(EsError::parsing(format!(
                "Expected [START_OBJECT] under [{ty}], but got a [{}] in [{name}]",
                token(body)
            )));
        };
        let kind = if metrics::TYPES.contains(&known) {
            Kind::Metric(metrics::parse(known, body)?)
        } else if bucket::TYPES.contains(&known) {
            Kind::Bucket(bucket::parse(known, body, now)?)
        } else {
            Kind::Pipeline(pipeline::parse(known, body)?)
        };
        let subs = match subs_def {
            Some(s) => parse_level(s, now, depth + 1)?,
            None => vec![],
        };
        if !subs.is_empty() && !matches!(kind, Kind::Bucket(_)) {
            return Err(EsError::new(
                400,
                "aggregation_initialization_exception",
                format!("Aggregator [{name}] of type [{known}] cannot accept sub-aggregations"),
            ));
        }
        out.push(Agg {
            name: name.clone(),
            meta,
            kind,
            subs,
        });
    }
    Ok(out)
}

fn token(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// One searched index: where to read and which rows the query selects.
pub struct Source {
    pub meta: Arc<IndexMeta>,
    pub from: FromClause,
    pub rows: sql::Rows,
    /// The query (never `post_filter`) and snapshot bounds.
    pub where_: Expr,
    /// The query's score (top_hits sorted by `_score`).
    pub score: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Scope {
    Query,
    Global,
    /// The objects under nested path `nested[i]` of the query's documents.
    Nested(usize),
    /// reverse_nested `reverse[i]`: the parent documents of the objects of its enclosing bucket.
    Reverse(usize),
}

struct KeySpec {
    /// Per source: the key expression (an array when `explode`).
    exprs: Vec<Expr>,
    explode: bool,
}

struct Level {
    scope: Scope,
    keys: Vec<usize>,
}

struct MetricSpec {
    level: usize,
    metric: Metric,
    shape: MetricInput,
    inputs: Vec<Expr>,
}

/// How a terms/histogram key is shown.
#[derive(Debug, Clone)]
struct KeyInfo {
    kind: fields::EsKind,
    date_format: Option<String>,
}

enum PNode {
    Metric {
        name: String,
        meta: Option<Value>,
        spec: usize,
    },
    Pipeline {
        name: String,
        meta: Option<Value>,
        p: Pipeline,
    },
    Bucket {
        name: String,
        meta: Option<Value>,
        b: Box<Bucket>,
        insts: Vec<Inst>,
        info: KeyInfo,
        /// multi_terms / composite: how each key component is shown.
        infos: Vec<KeyInfo>,
        /// terms with min_doc_count 0: the level listing every term of the indices.
        all_terms: Option<usize>,
    },
}

struct Inst {
    level: usize,
    subs: Vec<PNode>,
}

struct Planner<'a> {
    sources: &'a [Source],
    /// nested aggregations: per path, one source per index whose rows are the path's objects.
    nested: &'a [NestedSources],
    /// reverse_nested instances: the nested path's index and the keys of the enclosing bucket.
    reverse: Vec<(usize, Vec<usize>)>,
    now: i64,
    keys: Vec<KeySpec>,
    levels: Vec<Level>,
    metrics: Vec<MetricSpec>,
    /// Terms levels whose top-N (by `_count` desc, key asc) is cut inside ClickHouse:
    /// level → size.
    limits: HashMap<usize, usize>,
}

impl Planner<'_> {
    fn level(&mut self, scope: Scope, keys: Vec<usize>) -> usize {
        if let Some(i) = self
            .levels
            .iter()
            .position(|l| l.scope == scope && l.keys == keys)
        {
            return i;
        }
        self.levels.push(Level { scope, keys });
        self.levels.len() - 1
    }

    fn value_key(
        &mut self,
        field: &str,
        missing: Option<&Value>,
        round: &dyn Fn(Expr, &fields::Field) -> Expr,
    ) -> Result<usize, EsError> {
        let mut per = Vec::new();
        for s in self.sources {
            per.push(bucket::key_expr(&s.meta, field, missing, round)?);
        }
        let explode = per.iter().any(|p| matches!(p, Some((_, true))));
        let exprs = per
            .into_iter()
            .map(|p| match p {
                None if explode => sql::array(vec![]),
                None => sql::null(),
                Some((e, true)) => e,
                Some((e, false)) if explode => Expr::func(
                    "if",
                    vec![e.clone().is_null(), sql::array(vec![]), sql::array(vec![e])],
                ),
                Some((e, false)) => e,
            })
            .collect();
        self.keys.push(KeySpec { exprs, explode });
        Ok(self.keys.len() - 1)
    }

    /// multi_terms: a tuple of the fields' values per document (an exploded array of tuples —
    /// every combination — when some field holds several values in some index).
    fn multi_key(&mut self, terms: &[(String, Option<Value>)]) -> Result<usize, EsError> {
        let mut per = Vec::new();
        for s in self.sources {
            let mut parts = Vec::new();
            for (f, missing) in terms {
                parts.push(bucket::key_expr(&s.meta, f, missing.as_ref(), &|e, _| e)?);
            }
            per.push(parts);
        }
        Ok(self.tuple_key(per, &vec![false; terms.len()]))
    }

    /// composite: a tuple of the sources' values (rounded for histogram sources); a missing value
    /// is a NULL part, kept only for sources with `missing_bucket`.
    fn composite_key(&mut self, c: &bucket::Composite) -> Result<usize, EsError> {
        let mut per = Vec::new();
        for s in self.sources {
            let mut parts = Vec::new();
            for src in &c.sources {
                parts.push(match &src.histo {
                    Some(h) => {
                        let round = bucket::histo_round(h);
                        bucket::key_expr(&s.meta, &src.field, None, &round)?
                    }
                    None => bucket::key_expr(&s.meta, &src.field, None, &|e, _| e)?,
                });
            }
            per.push(parts);
        }
        let keep: Vec<bool> = c.sources.iter().map(|s| s.missing_bucket).collect();
        Ok(self.tuple_key(per, &keep))
    }

    /// A tuple key from per-source parts `(expr, is_array)`: one tuple per document, or — when
    /// some part holds several values in some index — an exploded array of every combination
    /// (`arrayFlatten(arrayMap(p0 -> arrayMap(p1 -> (p0, p1), A1), A0))`). A part without value
    /// is NULL; with `keep_null` it still yields a combination (an array `[NULL]`).
    fn tuple_key(&mut self, per: Vec<Vec<Option<(Expr, bool)>>>, keep_null: &[bool]) -> usize {
        let explode = per.iter().flatten().any(|p| matches!(p, Some((_, true))));
        let exprs = per
            .into_iter()
            .map(|parts| {
                if !explode {
                    return sql::tuple(
                        parts
                            .into_iter()
                            .map(|p| p.map(|(e, _)| e).unwrap_or_else(sql::null))
                            .collect(),
                    );
                }
                let arrays: Vec<Expr> = parts
                    .into_iter()
                    .zip(keep_null)
                    .map(|(p, keep)| {
                        let none = if *keep {
                            sql::array(vec![sql::null()])
                        } else {
                            sql::array(vec![])
                        };
                        match p {
                            None => none,
                            Some((e, true)) if *keep => Expr::func(
                                "if",
                                vec![Expr::func("empty", vec![e.clone()]), none, e],
                            ),
                            Some((e, true)) => e,
                            Some((e, false)) => Expr::func(
                                "if",
                                vec![e.clone().is_null(), none, sql::array(vec![e])],
                            ),
                        }
                    })
                    .collect();
                let n = arrays.len();
                let mut body = sql::tuple((0..n).map(|i| sql::col(format!("p{i}"))).collect());
                for (i, a) in arrays.into_iter().enumerate().rev() {
                    body = Expr::func("arrayMap", vec![sql::lambda([format!("p{i}")], body), a]);
                    if i + 1 < n {
                        body = Expr::func("arrayFlatten", vec![body]);
                    }
                }
                body
            })
            .collect();
        self.keys.push(KeySpec { exprs, explode });
        self.keys.len() - 1
    }

    fn cond_key(&mut self, f: &dyn Fn(&Source) -> Result<Expr, EsError>) -> Result<usize, EsError> {
        let mut exprs = Vec::new();
        for s in self.sources {
            exprs.push(Expr::func("toUInt8", vec![f(s)?]));
        }
        self.keys.push(KeySpec {
            exprs,
            explode: false,
        });
        Ok(self.keys.len() - 1)
    }

    /// sampler / diversified_sampler: a 0/1 condition "the document is among the best
    /// `shard_size` of its parent bucket" — `(parent keys…, _id) IN (SELECT … ORDER BY _score
    /// DESC, _id LIMIT n BY parent keys)` inside the same query. random_sampler: a hash of `_id`
    /// and the seed below `probability` of the hash range.
    fn sampler_key(
        &mut self,
        sm: &bucket::Sampler,
        scope: Scope,
        path: &[usize],
        name: &str,
        no_subs: bool,
    ) -> Result<usize, EsError> {
        use crate::catalog::COL_ID;
        match sm {
            bucket::Sampler::Random { probability, seed } => {
                if !path.is_empty() || scope == Scope::Global {
                    return Err(EsError::illegal_argument(format!(
                        "[random_sampler] aggregation [{name}] cannot have a parent aggregation"
                    )));
                }
                if no_subs {
                    return Err(EsError::illegal_argument(format!(
                        "[random_sampler] aggregation [{name}] must have sub-aggregations"
                    )));
                }
                if *probability == 0.0 {
                    return Err(EsError::illegal_argument(format!(
                        "[random_sampler] aggregation [{name}] must have [probability] set"
                    )));
                }
                let p = *probability;
                // p · 2^64: documents whose 64-bit hash is below it (p = 1: every document).
                let threshold = (p * 18_446_744_073_709_551_616.0) as u64;
                let seed = i64::from(*seed);
                self.cond_key(&|_| {
                    Ok(if p >= 1.0 {
                        sql::lit(1u64)
                    } else {
                        Expr::func("cityHash64", vec![sql::col(COL_ID), sql::lit(seed)])
                            .lt(sql::lit(threshold))
                    })
                })
            }
            bucket::Sampler::Top {
                shard_size,
                diversify,
            } => {
                if path.iter().any(|k| self.keys[*k].explode) {
                    return Err(EsError::unsupported(format!(
                        "[sampler] aggregation [{name}] below a bucket aggregation on a multi-valued field"
                    )));
                }
                let mut exprs = Vec::new();
                for (si, s) in self.sources.iter().enumerate() {
                    let parents: Vec<Expr> = path
                        .iter()
                        .map(|k| self.keys[*k].exprs[si].clone())
                        .collect();
                    let pcols: Vec<Expr> = (0..parents.len())
                        .map(|i| sql::col(format!("_sp{i}")))
                        .collect();
                    let mut items: Vec<sql::SelectItem> = parents
                        .iter()
                        .enumerate()
                        .map(|(i, e)| e.clone().alias(format!("_sp{i}")))
                        .collect();
                    items.push(sql::col(COL_ID).into());
                    items.push(s.score.clone().alias("_ss"));
                    let order = vec![sql::col("_ss").desc(), sql::col(COL_ID).asc()];
                    let limit_n = |by: Vec<Expr>, n: u64| {
                        if by.is_empty() {
                            (None, Some(n))
                        } else {
                            (Some(sql::query::LimitBy { limit: n, by }), None)
                        }
                    };
                    let base_where = (scope == Scope::Query).then(|| s.where_.clone());
                    let picked = match diversify {
                        None => {
                            let (limit_by, limit) = limit_n(pcols.clone(), *shard_size);
                            Select {
                                items,
                                from: Some(s.from.clone()),
                                rows: s.rows,
                                where_: base_where,
                                order_by: order,
                                limit_by,
                                limit,
                                ..Default::default()
                            }
                        }
                        Some((field, per_value)) => {
                            let value = match bucket::key_expr(&s.meta, field, None, &|e, _| e)? {
                                None => sql::null(),
                                Some((e, false)) => e,
                                Some((_, true)) => {
                                    return Err(EsError::unsupported(format!(
                                        "[diversified_sampler] on the multi-valued field [{field}]"
                                    )));
                                }
                            };
                            items.push(value.alias("_sv"));
                            let mut by = pcols.clone();
                            by.push(sql::col("_sv"));
                            let inner = Select {
                                items,
                                from: Some(s.from.clone()),
                                rows: s.rows,
                                where_: base_where,
                                order_by: order.clone(),
                                limit_by: Some(sql::query::LimitBy {
                                    limit: *per_value,
                                    by,
                                }),
                                ..Default::default()
                            };
                            let (limit_by, limit) = limit_n(pcols.clone(), *shard_size);
                            let mut outer_items: Vec<sql::SelectItem> =
                                pcols.iter().map(|c| c.clone().into()).collect();
                            outer_items.push(sql::col(COL_ID).into());
                            outer_items.push(sql::col("_ss").into());
                            Select {
                                items: outer_items,
                                from: Some(FromClause::subquery(inner, "sd")),
                                order_by: order,
                                limit_by,
                                limit,
                                ..Default::default()
                            }
                        }
                    };
                    let mut wanted = pcols;
                    wanted.push(sql::col(COL_ID));
                    let ids = Select {
                        items: wanted.into_iter().map(Into::into).collect(),
                        from: Some(FromClause::subquery(picked, "sp")),
                        ..Default::default()
                    };
                    let mut mine = parents;
                    mine.push(sql::col(COL_ID));
                    let lhs = if mine.len() == 1 {
                        sql::col(COL_ID)
                    } else {
                        sql::tuple(mine)
                    };
                    exprs.push(Expr::func("toUInt8", vec![lhs.in_subquery(ids)]));
                }
                self.keys.push(KeySpec {
                    exprs,
                    explode: false,
                });
                Ok(self.keys.len() - 1)
            }
        }
    }

    fn key_info(&self, field: &str, format: Option<&String>) -> KeyInfo {
        for s in self.sources {
            if let Some(f) = fields::resolve(&s.meta, field) {
                let date = matches!(f.kind, fields::EsKind::Date | fields::EsKind::DateNanos);
                return KeyInfo {
                    kind: f.kind,
                    date_format: date.then(|| {
                        format
                            .cloned()
                            .or(f.format.clone())
                            .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into())
                    }),
                };
            }
        }
        KeyInfo {
            kind: fields::EsKind::Other,
            date_format: None,
        }
    }

    fn plan(
        &mut self,
        aggs: &[Agg],
        scope: Scope,
        path: &[usize],
        level: usize,
    ) -> Result<Vec<PNode>, EsError> {
        let mut out = Vec::new();
        for a in aggs {
            let name = a.name.clone();
            let meta = a.meta.clone();
            match &a.kind {
                Kind::Metric(m) => {
                    if matches!(scope, Scope::Nested(_))
                        && matches!(m.kind, metrics::MetricKind::TopHits(_))
                    {
                        return Err(EsError::unsupported(format!(
                            "[top_hits] aggregation [{name}] inside a [nested] aggregation"
                        )));
                    }
                    let metas: Vec<Arc<IndexMeta>> =
                        self.sources.iter().map(|s| s.meta.clone()).collect();
                    let shape = metrics::input_shape(m, &metas)?;
                    let mut inputs = Vec::new();
                    for s in self.sources {
                        inputs.push(metrics::input_expr(m, &s.meta, &shape, &s.score)?);
                    }
                    self.metrics.push(MetricSpec {
                        level,
                        metric: m.clone(),
                        shape,
                        inputs,
                    });
                    out.push(PNode::Metric {
                        name,
                        meta,
                        spec: self.metrics.len() - 1,
                    });
                }
                Kind::Pipeline(p) => {
                    if let Pipeline::CumulativeCardinality { path: cpath } = p {
                        // The referenced cardinality must be a sibling; its distinct values
                        // per bucket come back as a hidden column of the same query.
                        let target = aggs.iter().find(|s| s.name == *cpath);
                        let m = match target.map(|t| &t.kind) {
                            Some(Kind::Metric(m))
                                if matches!(m.kind, metrics::MetricKind::Cardinality { .. }) =>
                            {
                                m
                            }
                            _ => {
                                return Err(EsError::illegal_argument(format!(
                                    "buckets_path must reference a cardinality aggregation, got: [{cpath}]"
                                )));
                            }
                        };
                        let set = metrics::Metric {
                            ty: "cardinality",
                            kind: metrics::MetricKind::ValueSet,
                            field: m.field.clone(),
                            missing: m.missing.clone(),
                            format: None,
                        };
                        let metas: Vec<Arc<IndexMeta>> =
                            self.sources.iter().map(|s| s.meta.clone()).collect();
                        let shape = metrics::input_shape(&set, &metas)?;
                        let mut inputs = Vec::new();
                        for s in self.sources {
                            inputs.push(metrics::input_expr(&set, &s.meta, &shape, &s.score)?);
                        }
                        self.metrics.push(MetricSpec {
                            level,
                            metric: set,
                            shape,
                            inputs,
                        });
                        out.push(PNode::Metric {
                            name: format!("{}{cpath}", pipeline::HIDDEN_SET_PREFIX),
                            meta: None,
                            spec: self.metrics.len() - 1,
                        });
                    }
                    out.push(PNode::Pipeline {
                        name,
                        meta,
                        p: p.clone(),
                    });
                }
                Kind::Bucket(b) => {
                    let mut insts = Vec::new();
                    let mut info = KeyInfo {
                        kind: fields::EsKind::Other,
                        date_format: None,
                    };
                    let mut all_terms = None;
                    let mut infos = Vec::new();
                    let child =
                        |pl: &mut Planner, key: usize, scope: Scope| -> Result<Inst, EsError> {
                            let mut p: Vec<usize> = path.to_vec();
                            p.push(key);
                            let lv = pl.level(scope, p.clone());
                            let subs = pl.plan(&a.subs, scope, &p, lv)?;
                            Ok(Inst { level: lv, subs })
                        };
                    match b {
                        Bucket::Terms(t) => {
                            info = self.key_info(&t.field, t.format.as_ref());
                            let k = self.value_key(&t.field, t.missing.as_ref(), &|e, _| e)?;
                            insts.push(child(self, k, scope)?);
                            // Top-N pushdown: with the default order and nothing that filters
                            // buckets after counting, only `size` groups per parent come back.
                            if t.order == [(OrderKey::Count, true), (OrderKey::Key, false)]
                                && t.include.is_none()
                                && t.exclude.is_none()
                                && t.min_doc_count == 1
                                && t.size < 100_000
                                && let Some(inst) = insts.last()
                            {
                                self.limits.insert(inst.level, t.size);
                            }
                            if t.min_doc_count == 0 {
                                if matches!(scope, Scope::Nested(_) | Scope::Reverse(_)) {
                                    return Err(EsError::unsupported(
                                        "[terms] with [min_doc_count] 0 inside a [nested] aggregation",
                                    ));
                                }
                                let g = self.value_key(&t.field, t.missing.as_ref(), &|e, _| e)?;
                                all_terms = Some(self.level(Scope::Global, vec![g]));
                            }
                        }
                        Bucket::IpRange(r) => {
                            for item in &r.ranges {
                                let k =
                                    self.cond_key(&|s| bucket::ip_cond(&s.meta, &r.field, item))?;
                                insts.push(child(self, k, scope)?);
                            }
                        }
                        Bucket::RareTerms { t, .. } => {
                            info = self.key_info(&t.field, t.format.as_ref());
                            let k = self.value_key(&t.field, t.missing.as_ref(), &|e, _| e)?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Adjacency { filters, .. } => {
                            // One 0/1 condition per filter and per pair (i < j): every bucket
                            // of the matrix is a level of the same grouping query.
                            let now = self.now;
                            for i in 0..filters.len() {
                                let k = self.cond_key(&|s| {
                                    plan::filter(&Ctx::new(&s.meta, now), &filters[i].1)
                                })?;
                                insts.push(child(self, k, scope)?);
                                for j in i + 1..filters.len() {
                                    let k = self.cond_key(&|s| {
                                        let ctx = Ctx::new(&s.meta, now);
                                        Ok(plan::filter(&ctx, &filters[i].1)?
                                            .and(plan::filter(&ctx, &filters[j].1)?))
                                    })?;
                                    insts.push(child(self, k, scope)?);
                                }
                            }
                        }
                        Bucket::GeoTile {
                            field,
                            precision,
                            geohash,
                            bounds,
                            ..
                        } => {
                            let mut exprs = Vec::new();
                            for s in self.sources {
                                let ty = if *geohash {
                                    "geohash_grid"
                                } else {
                                    "geotile_grid"
                                };
                                let mut pts = geo::points_expr(&s.meta, field, ty)?;
                                if let Some(b) = bounds {
                                    pts = Expr::func(
                                        "arrayFilter",
                                        vec![
                                            sql::lambda(
                                                ["gt"],
                                                geo::tile_in_bounds(sql::col("gt"), *precision, *b),
                                            ),
                                            pts,
                                        ],
                                    );
                                }
                                let cell = if *geohash {
                                    geo::geohash_key(sql::col("gt"), *precision)
                                } else {
                                    geo::tile_key(sql::col("gt"), *precision)
                                };
                                exprs.push(Expr::func(
                                    "arrayDistinct",
                                    vec![Expr::func(
                                        "arrayMap",
                                        vec![sql::lambda(["gt"], cell), pts],
                                    )],
                                ));
                            }
                            self.keys.push(KeySpec {
                                exprs,
                                explode: true,
                            });
                            let k = self.keys.len() - 1;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Composite(c) => {
                            if !path.is_empty() || scope == Scope::Global {
                                return Err(EsError::illegal_argument(format!(
                                    "[composite] aggregation cannot be used with a parent aggregation of type: [{}]",
                                    if scope == Scope::Global {
                                        "GlobalAggregatorFactory"
                                    } else {
                                        "bucket"
                                    }
                                )));
                            }
                            infos = c
                                .sources
                                .iter()
                                .map(|src| self.key_info(&src.field, src.format.as_ref()))
                                .collect();
                            let k = self.composite_key(c)?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::MultiTerms(mt) => {
                            infos = mt
                                .terms
                                .iter()
                                .map(|(f, _)| self.key_info(f, None))
                                .collect();
                            let k = self.multi_key(&mt.terms)?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Histogram(h) => {
                            info = self.key_info(&h.field, h.format.as_ref());
                            if h.date.is_some()
                                && info.date_format.is_none()
                                && info.kind != fields::EsKind::Other
                            {
                                return Err(EsError::illegal_argument(format!(
                                    "Field [{}] of type [{}] is not supported for aggregation [date_histogram]",
                                    h.field,
                                    format!("{:?}", info.kind).to_lowercase()
                                )));
                            }
                            let round = bucket::histo_round(h);
                            let k = self.value_key(&h.field, h.missing.as_ref(), &round)?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Range(r) => {
                            for item in &r.ranges {
                                let k = self.cond_key(&|s| bucket::range_cond(&s.meta, r, item))?;
                                insts.push(child(self, k, scope)?);
                            }
                        }
                        Bucket::Filter(q) => {
                            let now = self.now;
                            let k = self.cond_key(&|s| plan::filter(&Ctx::new(&s.meta, now), q))?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Filters(fs) => {
                            let now = self.now;
                            for (_, q) in &fs.filters {
                                let k =
                                    self.cond_key(&|s| plan::filter(&Ctx::new(&s.meta, now), q))?;
                                insts.push(child(self, k, scope)?);
                            }
                            if fs.other_bucket_key.is_some() {
                                let k = self.cond_key(&|s| {
                                    let ctx = Ctx::new(&s.meta, now);
                                    let any: Result<Vec<Expr>, EsError> = fs
                                        .filters
                                        .iter()
                                        .map(|(_, q)| plan::filter(&ctx, q))
                                        .collect();
                                    Ok(sql::not(sql::or_all(any?)))
                                })?;
                                insts.push(child(self, k, scope)?);
                            }
                        }
                        Bucket::Missing(f) => {
                            let k = self.cond_key(&|s| Ok(bucket::missing_cond(&s.meta, f)))?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Nested(npath) => {
                            if scope != Scope::Query {
                                return Err(EsError::unsupported(format!(
                                    "[nested] aggregation [{name}] inside a nested or global aggregation"
                                )));
                            }
                            let i = self
                                .nested
                                .iter()
                                .position(|(p, _, _)| p == npath)
                                .unwrap_or(0);
                            let nested = self.nested;
                            let saved = self.sources;
                            self.sources = &nested[i].1;
                            let r = self
                                .cond_key(&|_| Ok(sql::lit(1u64)))
                                .and_then(|k| child(self, k, Scope::Nested(i)));
                            self.sources = saved;
                            insts.push(r?);
                        }
                        Bucket::ReverseNested => {
                            let Scope::Nested(i) = scope else {
                                return Err(EsError::illegal_argument(format!(
                                    "Reverse nested aggregation [{name}] can only be used inside a [nested] aggregation"
                                )));
                            };
                            // The parent documents' view: rows still come from the path's objects
                            // (one per object, with the enclosing bucket's keys), deduplicated per
                            // (enclosing keys, document) in group_sql; keys and metrics below read
                            // the root fields only.
                            let r = self.reverse.len();
                            self.reverse.push((i, path.to_vec()));
                            let nested = self.nested;
                            let saved = self.sources;
                            self.sources = &nested[i].2;
                            let res = self
                                .cond_key(&|_| Ok(sql::lit(1u64)))
                                .and_then(|k| child(self, k, Scope::Reverse(r)));
                            self.sources = saved;
                            insts.push(res?);
                        }
                        Bucket::SigTerms(_) | Bucket::Sampler(_)
                            if matches!(scope, Scope::Nested(_) | Scope::Reverse(_)) =>
                        {
                            return Err(EsError::unsupported(format!(
                                "aggregation [{name}] inside a [nested] aggregation"
                            )));
                        }
                        Bucket::SigTerms(t) => {
                            // Foreground: the terms of the bucket; background: the same terms
                            // over all documents of the indices (+ their total), as terms with
                            // min_doc_count 0 lists every term.
                            info = self.key_info(&t.field, t.format.as_ref());
                            let k = self.value_key(&t.field, None, &|e, _| e)?;
                            insts.push(child(self, k, scope)?);
                            let g = self.value_key(&t.field, None, &|e, _| e)?;
                            all_terms = Some(self.level(Scope::Global, vec![g]));
                            self.level(Scope::Global, vec![]);
                        }
                        Bucket::IpPrefix(ip) => {
                            info = self.key_info(&ip.field, None);
                            if !matches!(info.kind, fields::EsKind::Ip | fields::EsKind::Other) {
                                let ty = self
                                    .sources
                                    .iter()
                                    .find_map(|s| fields::resolve(&s.meta, &ip.field))
                                    .map(|f| f.es_type.clone())
                                    .unwrap_or_default();
                                return Err(EsError::illegal_argument(format!(
                                    "Field [{}] of type [{ty}] is not supported for aggregation [ip_prefix]",
                                    ip.field
                                )));
                            }
                            let round = bucket::ip_prefix_round(ip);
                            let k = self.value_key(&ip.field, None, &round)?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::AutoDate(_) => {
                            // Root auto_date_histograms are resolved into date histograms
                            // before planning (resolve_auto_dates).
                            return Err(EsError::unsupported(format!(
                                "[auto_date_histogram] aggregation [{name}] below another aggregation"
                            )));
                        }
                        Bucket::Sampler(sm) => {
                            let k = self.sampler_key(sm, scope, path, &name, a.subs.is_empty())?;
                            insts.push(child(self, k, scope)?);
                        }
                        Bucket::Global => {
                            if !path.is_empty() || scope == Scope::Global {
                                return Err(EsError::new(
                                    400,
                                    "aggregation_initialization_exception",
                                    format!(
                                        "Aggregator [{name}] of type [global] cannot be a sub-aggregator"
                                    ),
                                ));
                            }
                            let lv = self.level(Scope::Global, vec![]);
                            let subs = self.plan(&a.subs, Scope::Global, &[], lv)?;
                            insts.push(Inst { level: lv, subs });
                        }
                    }
                    out.push(PNode::Bucket {
                        name,
                        meta,
                        b: Box::new(b.clone()),
                        insts,
                        info,
                        infos,
                        all_terms,
                    });
                }
            }
        }
        Ok(out)
    }
}

type Row = Map<String, Value>;

/// A query of grouped rows: scope and exploded keys shared by its levels.
struct Group {
    scope: Scope,
    keys: Vec<usize>,
    levels: Vec<usize>,
    metrics: Vec<usize>,
}

/// Everything ClickHouse answered, indexed for lookup by level and parent keys.
struct Results {
    /// level → parent key tuple (JSON) → rows (one per bucket).
    rows: Vec<HashMap<String, Vec<Row>>>,
}

impl Results {
    fn rows(&self, level: usize, path: &[Value]) -> &[Row] {
        let k = serde_json::to_string(path).unwrap_or_default();
        self.rows[level].get(&k).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The queries of a plan. Public for tests and the debug UI: how many statements a tree costs.
fn build_groups(p: &Planner) -> Vec<Group> {
    let mut groups: BTreeMap<(Scope, Vec<usize>), Group> = BTreeMap::new();
    for (i, l) in p.levels.iter().enumerate() {
        let exploded: Vec<usize> = l
            .keys
            .iter()
            .copied()
            .filter(|k| p.keys[*k].explode)
            .collect();
        let g = groups.entry((l.scope, exploded)).or_insert_with(|| Group {
            scope: l.scope,
            keys: vec![],
            levels: vec![],
            metrics: vec![],
        });
        g.levels.push(i);
        for k in &l.keys {
            if !g.keys.contains(k) {
                g.keys.push(*k);
            }
        }
    }
    let mut out: Vec<Group> = groups.into_values().collect();
    for (mi, m) in p.metrics.iter().enumerate() {
        if let Some(g) = out.iter_mut().find(|g| g.levels.contains(&m.level)) {
            g.metrics.push(mi);
        }
    }
    for g in &mut out {
        g.keys.sort_unstable();
    }
    out
}

fn group_sql(p: &Planner, g: &Group) -> Select {
    let mut selects = Vec::new();
    let (sources, outer) = match g.scope {
        Scope::Nested(i) => (p.nested[i].1.as_slice(), &[][..]),
        Scope::Reverse(r) => {
            let (i, outer) = &p.reverse[r];
            (p.nested[*i].2.as_slice(), outer.as_slice())
        }
        _ => (p.sources, &[][..]),
    };
    let key_item = |k: &usize, si: usize| {
        let spec = &p.keys[*k];
        let e = spec.exprs[si].clone();
        let e = if spec.explode {
            Expr::func("arrayJoin", vec![e])
        } else {
            e
        };
        e.alias(format!("__k{k}"))
    };
    for (si, s) in sources.iter().enumerate() {
        let mut items = vec![sql::lit(1u64).alias("_one")];
        let mut from = s.from.clone();
        if !outer.is_empty() {
            // reverse_nested: the enclosing bucket's keys per object, then one row per
            // (those keys, parent document) — each parent counted once per bucket.
            let mut inner_items = vec![sql::star().into()];
            inner_items.extend(outer.iter().map(|k| key_item(k, si)));
            let mut by: Vec<Expr> = outer.iter().map(|k| sql::col(format!("__k{k}"))).collect();
            by.push(sql::col(crate::catalog::COL_ID));
            let inner = Select {
                items: inner_items,
                from: Some(from),
                ..Default::default()
            }
            .limit_by(1, by);
            from = FromClause::subquery(inner, "rn");
        }
        for k in &g.keys {
            if outer.contains(k) {
                items.push(sql::col(format!("__k{k}")).alias(format!("__k{k}")));
            } else {
                items.push(key_item(k, si));
            }
        }
        for m in &g.metrics {
            items.push(p.metrics[*m].inputs[si].clone().alias(format!("__v{m}")));
        }
        selects.push(Select {
            items,
            from: Some(from),
            rows: s.rows,
            where_: (g.scope == Scope::Query).then(|| s.where_.clone()),
            ..Default::default()
        });
    }
    let mut items = Vec::new();
    for k in &g.keys {
        items.push(sql::col(format!("__k{k}")).into());
    }
    let mut sets: Vec<Vec<Expr>> = Vec::new();
    for l in &g.levels {
        sets.push(
            p.levels[*l]
                .keys
                .iter()
                .map(|k| sql::col(format!("__k{k}")))
                .collect(),
        );
    }
    let key_cols: Vec<Expr> = g.keys.iter().map(|k| sql::col(format!("__k{k}"))).collect();
    if key_cols.is_empty() {
        items.push(sql::lit(0u64).alias("_g"));
    } else {
        items.push(Expr::func("grouping", key_cols).alias("_g"));
    }
    items.push(Expr::func("count", vec![]).alias("_c"));
    for m in &g.metrics {
        let spec = &p.metrics[*m];
        items.extend(metrics::columns(
            &spec.metric,
            &format!("__v{m}"),
            spec.shape.array,
            &format!("m{m}"),
        ));
    }
    let only_total = sets.iter().all(Vec::is_empty);
    let grouped = Select {
        items,
        from: Some(FromClause::subquery(sql::union_all(selects), "d")),
        grouping_sets: if only_total { vec![] } else { sets },
        ..Default::default()
    };
    let limited: Vec<(usize, usize)> = g
        .levels
        .iter()
        .filter_map(|l| p.limits.get(l).map(|n| (*l, *n)))
        .collect();
    if limited.is_empty() || only_total {
        return grouped;
    }
    // Terms top-N inside ClickHouse: per limited level, rank its rows within their parent
    // bucket (`_count` desc, key asc, the missing key last) and keep the first `size`; `_tot{L}`
    // carries the sum of all its term counts for `sum_other_doc_count`.
    let n = g.keys.len();
    let mut ranked = vec![sql::star().into()];
    let mut keep = Vec::new();
    for (l, size) in &limited {
        let lv = &p.levels[*l];
        let mut mask = 0u64;
        for (j, k) in g.keys.iter().enumerate() {
            if !lv.keys.contains(k) {
                mask |= 1 << (n - 1 - j);
            }
        }
        let Some(own) = lv.keys.last() else { continue };
        let own = sql::col(format!("__k{own}"));
        let mut partition = vec![sql::col("_g")];
        partition.extend(
            lv.keys[..lv.keys.len() - 1]
                .iter()
                .map(|k| sql::col(format!("__k{k}"))),
        );
        let rank_window = sql::Window {
            partition_by: partition.clone(),
            order_by: vec![
                own.clone().is_null().asc(),
                sql::col("_c").desc(),
                own.clone().asc(),
            ],
        };
        ranked.push(
            Expr::func("row_number", vec![])
                .over(rank_window)
                .alias(format!("_rn{l}")),
        );
        ranked.push(
            Expr::func(
                "sum",
                vec![Expr::func(
                    "if",
                    vec![own.is_null(), sql::lit(0u64), sql::col("_c")],
                )],
            )
            .over(sql::Window {
                partition_by: partition,
                order_by: vec![],
            })
            .alias(format!("_tot{l}")),
        );
        keep.push(
            sql::col("_g")
                .ne(sql::lit(mask))
                .or(sql::col(format!("_rn{l}")).lte(sql::lit(*size as u64))),
        );
    }
    let with_ranks = Select {
        items: ranked,
        from: Some(FromClause::subquery(grouped, "g")),
        ..Default::default()
    };
    Select {
        items: vec![sql::star().into()],
        from: Some(FromClause::subquery(with_ranks, "r")),
        where_: Some(sql::and_all(keep)),
        ..Default::default()
    }
}

fn collect_nested<'t>(aggs: &'t [Agg], out: &mut Vec<&'t str>) {
    for a in aggs {
        if let Kind::Bucket(Bucket::Nested(p)) = &a.kind
            && !out.contains(&p.as_str())
        {
            out.push(p);
        }
        collect_nested(&a.subs, out);
    }
}

/// The sources of every nested path of the tree: per index, a subquery with one row per object
/// of the query's documents — `arrayJoin(arrayZip(arrayResize(leaf, n)…))` over the path's
/// aligned leaf columns, each leaf then selected under its own name as one object's value, the
/// document's other columns beside them — and the index metadata restricted to the path's
/// leaves with their element types (as the nested query's scope), so sub-aggregations see only
/// the objects' fields, while the keys of parent buckets still read the document's columns.
/// Per nested path: the path, its objects' sources (scoped to the path's leaves) and the same
/// rows scoped to the root document's fields (for reverse_nested below it).
type NestedSources = (String, Vec<Source>, Vec<Source>);

fn nested_sources(sources: &[Source], aggs: &[Agg]) -> Result<Vec<NestedSources>, EsError> {
    let mut paths = Vec::new();
    collect_nested(aggs, &mut paths);
    let mut out = Vec::new();
    for path in paths {
        let mut per = Vec::new();
        let mut rev = Vec::new();
        for s in sources {
            let meta = &s.meta;
            let nested = match meta.mappings.object_at(path) {
                Some((true, _)) => true,
                Some((false, _)) => {
                    return Err(EsError::new(
                        400,
                        "aggregation_execution_exception",
                        format!("[nested] nested path [{path}] is not nested"),
                    ));
                }
                None if fields::is_mapped(meta, path) => {
                    return Err(EsError::new(
                        400,
                        "aggregation_execution_exception",
                        format!("[nested] nested path [{path}] is not nested"),
                    ));
                }
                None => false,
            };
            let mut leaves: Vec<String> = Vec::new();
            if nested {
                for f in meta.mappings.leaf_fields() {
                    if f.nested_path.as_deref() == Some(path)
                        && let Some(c) = f.column
                        && let Some(physical) = meta.physical_column(&c)
                        && !leaves.iter().any(|l| l == physical)
                    {
                        leaves.push(physical.to_string());
                    }
                }
            }
            let mut scoped = (**meta).clone();
            if nested {
                scoped.nested_scope = Some(path.to_string());
            }
            scoped.columns = leaves
                .iter()
                .filter_map(|c| {
                    let stored = meta.columns.get(c)?;
                    let element = match stored.base() {
                        sql::ChType::Array(inner) => inner.as_ref().clone(),
                        other => other.clone(),
                    };
                    Some((c.clone(), element))
                })
                .collect();
            let from = if leaves.is_empty() {
                // No object anywhere: no rows.
                let q = Select {
                    items: vec![sql::star().into()],
                    from: Some(s.from.clone()),
                    rows: s.rows,
                    where_: Some(sql::lit(false)),
                    ..Default::default()
                };
                FromClause::subquery(q, "nq")
            } else {
                let lengths: Vec<Expr> = leaves
                    .iter()
                    .map(|c| Expr::func("length", vec![sql::col(c.as_str())]))
                    .collect();
                let n = if lengths.len() == 1 {
                    lengths[0].clone()
                } else {
                    Expr::func("greatest", lengths)
                };
                let zipped = Expr::func(
                    "arrayZip",
                    leaves
                        .iter()
                        .map(|c| Expr::func("arrayResize", vec![sql::col(c.as_str()), n.clone()]))
                        .collect(),
                );
                let inner = Select {
                    items: vec![
                        sql::star().into(),
                        Expr::func("arrayJoin", vec![zipped]).alias("__nobj"),
                    ],
                    from: Some(s.from.clone()),
                    rows: s.rows,
                    where_: Some(s.where_.clone()),
                    ..Default::default()
                };
                let mut items: Vec<sql::SelectItem> = meta
                    .columns
                    .keys()
                    .filter(|c| !leaves.contains(c))
                    .map(|c| sql::col(c.as_str()).into())
                    .collect();
                items.push(sql::col(crate::catalog::COL_ID).into());
                // The parent document's _source (top_hits below reverse_nested).
                items.push(sql::col(crate::catalog::COL_SOURCE).into());
                for (i, c) in leaves.iter().enumerate() {
                    items.push(
                        Expr::func(
                            "tupleElement",
                            vec![sql::col("__nobj"), sql::lit((i + 1) as u64)],
                        )
                        .alias(c.as_str()),
                    );
                }
                FromClause::subquery(
                    Select {
                        items,
                        from: Some(FromClause::subquery(inner, "nd")),
                        ..Default::default()
                    },
                    "no",
                )
            };
            // The root document's view: every column but the leaves of nested objects.
            let nested_cols: Vec<String> = meta
                .mappings
                .leaf_fields()
                .into_iter()
                .filter(|f| f.nested_path.is_some())
                .filter_map(|f| f.column)
                .filter_map(|c| meta.physical_column(&c).map(str::to_string))
                .collect();
            let mut root = (**meta).clone();
            root.nested_scope = None;
            root.columns.retain(|c, _| !nested_cols.contains(c));
            rev.push(Source {
                meta: Arc::new(root),
                from: from.clone(),
                rows: sql::Rows::All,
                where_: sql::lit(true),
                score: sql::lit(0.0),
            });
            per.push(Source {
                meta: Arc::new(scoped),
                from,
                rows: sql::Rows::All,
                where_: sql::lit(true),
                score: sql::lit(0.0),
            });
        }
        out.push((path.to_string(), per, rev));
    }
    Ok(out)
}

/// JLHScore#getScore (significant_terms' default heuristic).
fn jlh(subset_freq: u64, subset_size: u64, superset_freq: u64, superset_size: u64) -> f64 {
    if subset_size == 0 || superset_size == 0 {
        return 0.0;
    }
    let superset_freq = superset_freq.max(1);
    let sub = subset_freq as f64 / subset_size as f64;
    let sup = superset_freq as f64 / superset_size as f64;
    let abs = sub - sup;
    if abs <= 0.0 {
        return 0.0;
    }
    abs * (sub / sup)
}

fn cal_size(u: bucket::CalUnit) -> metrics::RateUnit {
    use bucket::CalUnit as C;
    use metrics::RateUnit as R;
    match u {
        C::Minute => R::Millis(60_000),
        C::Hour => R::Millis(3_600_000),
        C::Day => R::Millis(86_400_000),
        C::Week => R::Millis(7 * 86_400_000),
        C::Month => R::Months(1),
        C::Quarter => R::Months(3),
        C::Year => R::Months(12),
    }
}

fn rate_unit_name(u: metrics::RateUnit) -> &'static str {
    use metrics::RateUnit as R;
    match u {
        R::Millis(1000) => "second",
        R::Millis(60_000) => "minute",
        R::Millis(3_600_000) => "hour",
        R::Millis(86_400_000) => "day",
        R::Millis(_) => "week",
        R::Months(1) => "month",
        R::Months(3) => "quarter",
        R::Months(_) => "year",
    }
}

/// The size of the date_histogram bucket at `key` in rate units (1 without a unit).
fn rate_divisor(h: &bucket::Histo, key: f64, unit: Option<metrics::RateUnit>) -> f64 {
    use metrics::RateUnit as R;
    let Some(unit) = unit else { return 1.0 };
    match (&h.date, unit) {
        (Some(bucket::Interval::Calendar(c)), R::Millis(r)) => match cal_size(*c) {
            R::Millis(ms) => ms as f64 / r as f64,
            R::Months(_) => (bucket::next_key(h, key) - key) / r as f64,
        },
        (Some(bucket::Interval::Calendar(c)), R::Months(r)) => match cal_size(*c) {
            R::Months(m) => m as f64 / r as f64,
            R::Millis(_) => 1.0,
        },
        (Some(bucket::Interval::Fixed(i)), R::Millis(r)) => *i as f64 / r as f64,
        _ => 1.0,
    }
}

/// rate must sit directly below a date_histogram whose interval can be measured in its unit
/// (RateAggregator, Rounding#roundingSize); checked before anything runs.
fn check_rates(aggs: &[Agg], parent: Option<&Bucket>) -> Result<(), EsError> {
    for a in aggs {
        match &a.kind {
            Kind::Metric(m) => {
                let metrics::MetricKind::Rate { unit, .. } = &m.kind else {
                    continue;
                };
                let h = match parent {
                    Some(Bucket::Histogram(h)) if h.date.is_some() => h,
                    _ => {
                        return Err(EsError::illegal_argument(
                            "The rate aggregation can only be used inside a date histogram aggregation or composite aggregation with one date histogram value source",
                        ));
                    }
                };
                if let Some(u @ metrics::RateUnit::Months(_)) = unit {
                    match &h.date {
                        Some(bucket::Interval::Fixed(_)) => {
                            return Err(EsError::illegal_argument(format!(
                                "Cannot use month-based rate unit [{}] with fixed interval based histogram, only week, day, hour, minute and second are supported for this histogram",
                                rate_unit_name(*u)
                            )));
                        }
                        Some(bucket::Interval::Calendar(c))
                            if matches!(cal_size(*c), metrics::RateUnit::Millis(_)) =>
                        {
                            return Err(EsError::illegal_argument(format!(
                                "Cannot use month-based rate unit [{}] with non-month based calendar interval histogram [{}] only week, day, hour, minute and second are supported for this histogram",
                                rate_unit_name(*u),
                                rate_unit_name(cal_size(*c))
                            )));
                        }
                        _ => {}
                    }
                }
            }
            Kind::Bucket(b) => check_rates(&a.subs, Some(b))?,
            Kind::Pipeline(_) => {}
        }
    }
    Ok(())
}

/// auto_date_histogram at the root: one query for the range (min, max) of its field over the
/// query's documents, from which its rounding is chosen as Elasticsearch's reduction would
/// (`AutoDate::resolve`); it then runs as a date_histogram in the main query. With `ch` `None`
/// (query counting), no data is assumed.
async fn resolve_auto_dates(
    ch: Option<&ClickHouse>,
    sources: &[Source],
    aggs: &[Agg],
) -> Result<Vec<Agg>, EsError> {
    let mut out = aggs.to_vec();
    for a in &mut out {
        let Kind::Bucket(Bucket::AutoDate(ad)) = &a.kind else {
            continue;
        };
        let mut range = None;
        if let Some(ch) = ch {
            let mut selects = Vec::new();
            for s in sources {
                let Some((e, is_array)) =
                    bucket::key_expr(&s.meta, &ad.field, ad.missing.as_ref(), &|e, _| e)?
                else {
                    continue;
                };
                let info = fields::resolve(&s.meta, &ad.field);
                if let Some(f) = info
                    && !matches!(f.kind, fields::EsKind::Date | fields::EsKind::DateNanos)
                {
                    return Err(EsError::illegal_argument(format!(
                        "Field [{}] of type [{}] is not supported for aggregation [auto_date_histogram]",
                        ad.field, f.es_type
                    )));
                }
                let v = if is_array {
                    Expr::func("arrayJoin", vec![e])
                } else {
                    e
                };
                selects.push(Select {
                    items: vec![v.alias("_v")],
                    from: Some(s.from.clone()),
                    rows: s.rows,
                    where_: Some(s.where_.clone()),
                    ..Default::default()
                });
            }
            if !selects.is_empty() {
                let q = Select {
                    items: vec![
                        Expr::func("min", vec![sql::col("_v")]).alias("lo"),
                        Expr::func("max", vec![sql::col("_v")]).alias("hi"),
                        Expr::func("count", vec![sql::col("_v")]).alias("n"),
                    ],
                    from: Some(FromClause::subquery(sql::union_all(selects), "d")),
                    ..Default::default()
                };
                let rows = ch.query_rows(&q).await?;
                let num = |v: Option<&Value>| -> Option<i64> {
                    v.and_then(|x| {
                        x.as_i64()
                            .or_else(|| x.as_f64().map(|f| f as i64))
                            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                    })
                };
                if let Some(r) = rows.first()
                    && num(r.get("n")).unwrap_or(0) > 0
                    && let (Some(lo), Some(hi)) = (num(r.get("lo")), num(r.get("hi")))
                {
                    range = Some((lo, hi));
                }
            }
        }
        tracing::debug!(agg = %a.name, ?range, "auto_date_histogram range");
        a.kind = Kind::Bucket(Bucket::Histogram(ad.resolve(range)));
    }
    Ok(out)
}

/// Runs the aggregations over the sources; returns the `aggregations` object and the number of
/// ClickHouse queries used.
pub async fn execute(
    ch: &ClickHouse,
    sources: &[Source],
    aggs: &[Agg],
    now_millis: i64,
) -> Result<Value, EsError> {
    check_rates(aggs, None)?;
    let resolved = resolve_auto_dates(Some(ch), sources, aggs).await?;
    let aggs = resolved.as_slice();
    let nested = nested_sources(sources, aggs)?;
    let mut p = Planner {
        sources,
        nested: &nested,
        reverse: vec![],
        now: now_millis,
        keys: vec![],
        levels: vec![],
        metrics: vec![],
        limits: HashMap::new(),
    };
    let root_level = p.level(Scope::Query, vec![]);
    let tree = p.plan(aggs, Scope::Query, &[], root_level)?;
    let mut results = Results {
        rows: (0..p.levels.len()).map(|_| HashMap::new()).collect(),
    };
    if !sources.is_empty() {
        let groups = build_groups(&p);
        // search.max_buckets, pushed into the SQL: a statement returns one row per bucket (of one
        // level), so more rows than `MAX_BUCKETS_ROWS` mean a response over the limit, and the
        // engine stops there instead of streaming millions of rows to the daemon. A terms level
        // returns up to its shard_size (≤ 11× its size) per parent, hence the margin; the exact
        // count of the rendered buckets is checked below.
        let queries: Vec<Select> = groups
            .iter()
            .map(|g| {
                group_sql(&p, g)
                    .setting("max_result_rows", MAX_BUCKETS_ROWS)
                    .setting("result_overflow_mode", "throw")
            })
            .collect();
        let answers = futures::future::try_join_all(queries.iter().map(|q| async move {
            ch.query_rows(q).await.map_err(|e| {
                if e.code == Some(crate::clickhouse::ChError::TOO_MANY_ROWS_OR_BYTES) {
                    too_many_buckets()
                } else {
                    EsError::from(e)
                }
            })
        }))
        .await?;
        for (g, rows) in groups.iter().zip(answers) {
            let n = g.keys.len();
            let mask_of = |l: &Level| -> u64 {
                let mut m = 0u64;
                for (j, k) in g.keys.iter().enumerate() {
                    if !l.keys.contains(k) {
                        m |= 1 << (n - 1 - j);
                    }
                }
                m
            };
            let by_mask: HashMap<u64, usize> = g
                .levels
                .iter()
                .map(|l| (mask_of(&p.levels[*l]), *l))
                .collect();
            for row in rows {
                let mask = row.get("_g").and_then(Value::as_u64).unwrap_or(0);
                let Some(&li) = by_mask.get(&mask) else {
                    continue;
                };
                let l = &p.levels[li];
                let parent: Vec<Value> = l.keys[..l.keys.len().saturating_sub(1)]
                    .iter()
                    .map(|k| row.get(&format!("__k{k}")).cloned().unwrap_or(Value::Null))
                    .collect();
                let pk = serde_json::to_string(&parent).unwrap_or_default();
                results.rows[li].entry(pk).or_default().push(row);
            }
        }
    }
    let r = Render {
        p: &p,
        res: &results,
    };
    let root_row = results.rows[root_level].get("[]").and_then(|v| v.first());
    let out = r.nodes(&tree, Some(&[]), root_row)?;
    if count_buckets(&out) > MAX_BUCKETS {
        return Err(too_many_buckets());
    }
    Ok(Value::Object(out))
}

/// `search.max_buckets` (MultiBucketConsumerService.DEFAULT_MAX_BUCKETS): the most buckets of all
/// multi-bucket aggregations of one response, at every level.
pub const MAX_BUCKETS: usize = 65_536;
const MAX_BUCKETS_ROWS: u64 = 12 * MAX_BUCKETS as u64;

/// MultiBucketConsumerService.TooManyBucketsException: 400, with the limit as metadata.
pub fn too_many_buckets() -> EsError {
    EsError::new(
        400,
        "too_many_buckets_exception",
        format!(
            "Trying to create too many buckets. Must be less than or equal to: [{MAX_BUCKETS}] but this number of buckets was exceeded. This limit can be set by changing the [search.max_buckets] cluster level setting."
        ),
    )
    .with("max_buckets", MAX_BUCKETS)
}

/// The buckets of every multi-bucket aggregation in a rendered `aggregations` object, at every
/// level (what Elasticsearch's reduce counts against `search.max_buckets`).
fn count_buckets(aggs: &Map<String, Value>) -> usize {
    let mut n = 0;
    let mut stack: Vec<&Value> = aggs.values().collect();
    while let Some(v) = stack.pop() {
        let Value::Object(o) = v else { continue };
        for (k, x) in o {
            match (k.as_str(), x) {
                ("buckets", Value::Array(b)) => {
                    n += b.len();
                    stack.extend(b.iter());
                }
                ("buckets", Value::Object(b)) => {
                    n += b.len();
                    stack.extend(b.values());
                }
                (_, Value::Object(_)) => stack.push(x),
                _ => {}
            }
        }
    }
    n
}

/// How many ClickHouse queries a parsed tree costs on these sources (for docs and tests).
pub fn query_count(sources: &[Source], aggs: &[Agg], now_millis: i64) -> Result<usize, EsError> {
    let nested = nested_sources(sources, aggs)?;
    let mut p = Planner {
        sources,
        nested: &nested,
        reverse: vec![],
        now: now_millis,
        keys: vec![],
        levels: vec![],
        metrics: vec![],
        limits: HashMap::new(),
    };
    let root_level = p.level(Scope::Query, vec![]);
    check_rates(aggs, None)?;
    let mut resolved = aggs.to_vec();
    let mut extra = 0;
    for a in &mut resolved {
        if let Kind::Bucket(Bucket::AutoDate(ad)) = &a.kind {
            a.kind = Kind::Bucket(Bucket::Histogram(ad.resolve(None)));
            extra += 1;
        }
    }
    p.plan(&resolved, Scope::Query, &[], root_level)?;
    // Each root auto_date_histogram first reads its field's range.
    Ok(build_groups(&p).len() + extra)
}

// ---------------------------------------------------------------------------------------------
// Rendering

struct Render<'a> {
    p: &'a Planner<'a>,
    res: &'a Results,
}

fn with_meta(meta: &Option<Value>, body: Map<String, Value>) -> Value {
    let mut out = Map::new();
    if let Some(m) = meta {
        out.insert("meta".into(), m.clone());
    }
    out.extend(body);
    Value::Object(out)
}

fn count_of(row: Option<&Row>) -> u64 {
    row.and_then(|r| r.get("_c"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

impl Render<'_> {
    /// Renders sibling aggregations of one bucket. `path` is `None` in an empty bucket.
    fn nodes(
        &self,
        nodes: &[PNode],
        path: Option<&[Value]>,
        row: Option<&Row>,
    ) -> Result<Map<String, Value>, EsError> {
        let mut out = Map::new();
        for n in nodes {
            match n {
                PNode::Metric { name, meta, spec } => {
                    let s = &self.p.metrics[*spec];
                    let body = metrics::render(&s.metric, &s.shape, row, &format!("m{spec}"));
                    out.insert(name.clone(), with_meta(meta, body));
                }
                PNode::Pipeline { .. } => {}
                PNode::Bucket {
                    name,
                    meta,
                    b,
                    insts,
                    info,
                    infos,
                    all_terms,
                } => {
                    let body =
                        self.bucket(b, insts, (info, infos), *all_terms, path, count_of(row))?;
                    out.insert(name.clone(), with_meta(meta, body));
                }
            }
        }
        // Sibling pipelines read the aggregations rendered above, in request order.
        for n in nodes {
            if let PNode::Pipeline { name, meta, p } = n
                && p.is_sibling()
            {
                let body = pipeline::sibling(p, name, &out)?;
                out.insert(name.clone(), with_meta(meta, body));
            }
        }
        Ok(out)
    }

    fn single(
        &self,
        inst: &Inst,
        path: Option<&[Value]>,
    ) -> Result<(u64, Map<String, Value>), EsError> {
        let row = path.and_then(|p| {
            self.res
                .rows(inst.level, p)
                .iter()
                .find(|r| self.own_key(inst.level, r).and_then(|v| v.as_u64()) == Some(1))
        });
        let sub_path = path.map(|p| {
            let mut v = p.to_vec();
            v.push(json!(1));
            v
        });
        let subs = self.nodes(
            &inst.subs,
            if row.is_some() {
                sub_path.as_deref()
            } else {
                None
            },
            row,
        )?;
        Ok((count_of(row), subs))
    }

    /// rate metrics directly below a date_histogram: the bucket's sum divided by the bucket's
    /// size in the rate's unit (Rounding.Prepared#roundingSize).
    fn apply_rates(
        &self,
        nodes: &[PNode],
        h: &bucket::Histo,
        key: f64,
        subs: &mut Map<String, Value>,
    ) {
        for n in nodes {
            let PNode::Metric { name, spec, .. } = n else {
                continue;
            };
            let metrics::MetricKind::Rate { unit, .. } = &self.p.metrics[*spec].metric.kind else {
                continue;
            };
            let div = rate_divisor(h, key, *unit);
            if let Some(Value::Object(o)) = subs.get_mut(name)
                && let Some(v) = o.get("value").and_then(Value::as_f64)
            {
                o.insert("value".into(), json!(v / div));
            }
        }
    }

    /// random_sampler's finalizeSampling: bucket doc counts, `sum_other_doc_count`, sums, value
    /// counts and stats' count/sum of the sub-aggregations scaled by 1/probability
    /// (SamplingContext#scaleUp: counts rounded to the nearest integer); averages, extrema and
    /// the rest are left as sampled.
    fn scale_up(&self, nodes: &[PNode], m: &mut Map<String, Value>, inv: f64) {
        let long = |v: &mut Value| {
            if let Some(x) = v.as_f64() {
                *v = json!((x * inv).round() as i64);
            }
        };
        let double = |v: &mut Value| {
            if let Some(x) = v.as_f64() {
                *v = json!(x * inv);
            }
        };
        for n in nodes {
            match n {
                PNode::Metric { name, spec, .. } => {
                    let Some(Value::Object(o)) = m.get_mut(name) else {
                        continue;
                    };
                    match &self.p.metrics[*spec].metric.kind {
                        metrics::MetricKind::Sum => o.get_mut("value").map(double),
                        metrics::MetricKind::ValueCount => o.get_mut("value").map(long),
                        metrics::MetricKind::Stats => {
                            o.get_mut("count").map(long);
                            o.get_mut("sum").map(double)
                        }
                        _ => None,
                    };
                }
                PNode::Bucket { name, insts, .. } => {
                    let Some(Value::Object(o)) = m.get_mut(name) else {
                        continue;
                    };
                    let subs = insts.first().map(|i| i.subs.as_slice()).unwrap_or(&[]);
                    if let Some(v) = o.get_mut("sum_other_doc_count") {
                        long(v);
                    }
                    if !o.contains_key("buckets") {
                        if let Some(v) = o.get_mut("doc_count") {
                            long(v);
                        }
                        self.scale_up(subs, o, inv);
                        continue;
                    }
                    let buckets: Vec<&mut Value> = match o.get_mut("buckets") {
                        Some(Value::Array(a)) => a.iter_mut().collect(),
                        Some(Value::Object(b)) => b.values_mut().collect(),
                        _ => vec![],
                    };
                    for b in buckets {
                        if let Value::Object(bk) = b {
                            if let Some(v) = bk.get_mut("doc_count") {
                                long(v);
                            }
                            self.scale_up(subs, bk, inv);
                        }
                    }
                }
                PNode::Pipeline { .. } => {}
            }
        }
    }

    fn own_key<'r>(&self, level: usize, row: &'r Row) -> Option<&'r Value> {
        let k = self.p.levels[level].keys.last()?;
        row.get(&format!("__k{k}"))
    }

    /// Keyed buckets (terms, histograms): (key, row) of each bucket under `path`.
    fn keyed_rows(&self, inst: &Inst, path: Option<&[Value]>) -> Vec<(Value, &Row)> {
        let Some(p) = path else { return vec![] };
        self.res
            .rows(inst.level, p)
            .iter()
            .filter_map(|r| {
                let k = self.own_key(inst.level, r)?;
                (!k.is_null()).then(|| (k.clone(), r))
            })
            .collect()
    }

    fn sub_path(path: Option<&[Value]>, key: &Value) -> Option<Vec<Value>> {
        path.map(|p| {
            let mut v = p.to_vec();
            v.push(key.clone());
            v
        })
    }

    fn bucket(
        &self,
        b: &Bucket,
        insts: &[Inst],
        (info, infos): (&KeyInfo, &[KeyInfo]),
        all_terms: Option<usize>,
        path: Option<&[Value]>,
        parent_count: u64,
    ) -> Result<Map<String, Value>, EsError> {
        let mut out = Map::new();
        let pipelines: Vec<(&String, &Option<Value>, &Pipeline)> = insts
            .first()
            .map(|i| {
                i.subs
                    .iter()
                    .filter_map(|n| match n {
                        PNode::Pipeline { name, meta, p } if !p.is_sibling() => {
                            Some((name, meta, p))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        match b {
            Bucket::AutoDate(_) => {}
            Bucket::SigTerms(t) => {
                // InternalSignificantTerms: doc_count (subset size), bg_count (superset size),
                // buckets of key, doc_count, score (JLHScore), bg_count; kept when score > 0 and
                // doc_count ≥ min_doc_count, by score descending (ties: key).
                let inst = &insts[0];
                let bg_size = self
                    .p
                    .levels
                    .iter()
                    .position(|l| l.scope == Scope::Global && l.keys.is_empty())
                    .map(|l| count_of(self.res.rows(l, &[]).first()))
                    .unwrap_or(0);
                let mut bg: HashMap<String, u64> = HashMap::new();
                if let Some(all) = all_terms {
                    for (k, r) in self.keyed_rows(
                        &Inst {
                            level: all,
                            subs: vec![],
                        },
                        Some(&[]),
                    ) {
                        bg.insert(k.to_string(), count_of(Some(r)));
                    }
                }
                let key_text = |k: &Value| match k {
                    Value::String(s) => s.clone(),
                    other => render_key(info, other)
                        .1
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| other.to_string()),
                };
                let mut scored = Vec::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let n = count_of(Some(row));
                    let bg_n = bg.get(&k.to_string()).copied().unwrap_or(0);
                    let score = jlh(n, parent_count, bg_n, bg_size);
                    if score > 0.0 && n >= t.min_doc_count && t.accepts(&key_text(&k)) {
                        scored.push((score, k, n, bg_n, row));
                    }
                }
                scored.sort_by(|a, b| {
                    b.0.total_cmp(&a.0)
                        .then_with(|| key_text(&a.1).cmp(&key_text(&b.1)))
                });
                scored.truncate(t.size);
                let mut list = Vec::new();
                for (score, k, n, bg_n, row) in scored {
                    let sp = Self::sub_path(path, &k);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    let mut bk = Map::new();
                    let (key, kas) = render_key(info, &k);
                    bk.insert("key".into(), key);
                    if let Some(s) = kas {
                        bk.insert("key_as_string".into(), s);
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.insert("score".into(), json!(score));
                    bk.insert("bg_count".into(), json!(bg_n));
                    bk.extend(subs);
                    list.push(Value::Object(bk));
                }
                out.insert("doc_count".into(), json!(parent_count));
                out.insert("bg_count".into(), json!(bg_size));
                out.insert("buckets".into(), Value::Array(list));
            }
            Bucket::IpPrefix(ip) => {
                let inst = &insts[0];
                let mut rows: Vec<(u128, String, Value, &Row)> = self
                    .keyed_rows(inst, path)
                    .into_iter()
                    .filter_map(|(k, r)| {
                        let addr: std::net::IpAddr = if ip.is_ipv6 {
                            let v6: std::net::Ipv6Addr = k.as_str()?.parse().ok()?;
                            match v6.to_ipv4_mapped() {
                                Some(v4) => std::net::IpAddr::V4(v4),
                                None => std::net::IpAddr::V6(v6),
                            }
                        } else {
                            std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                                u32::try_from(k.as_u64()?).ok()?,
                            ))
                        };
                        let bits = match addr {
                            std::net::IpAddr::V4(v) if !ip.is_ipv6 => u128::from(u32::from(v)),
                            std::net::IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
                            std::net::IpAddr::V6(v) => u128::from(v),
                        };
                        Some((bits, addr.to_string(), k, r))
                    })
                    .collect();
                rows.sort_by_key(|r| r.0);
                let netmask = (!ip.is_ipv6).then(|| {
                    let m = if ip.prefix_length == 0 {
                        0u32
                    } else {
                        u32::MAX << (32 - ip.prefix_length)
                    };
                    std::net::Ipv4Addr::from(m).to_string()
                });
                let mut list = Vec::new();
                for (_, key, k, r) in rows {
                    let n = count_of(Some(r));
                    if n < ip.min_doc_count {
                        continue;
                    }
                    let key = if ip.append_prefix_length {
                        format!("{key}/{}", ip.prefix_length)
                    } else {
                        key
                    };
                    let subs =
                        self.nodes(&inst.subs, Self::sub_path(path, &k).as_deref(), Some(r))?;
                    let mut bk = Map::new();
                    if !ip.keyed {
                        bk.insert("key".into(), json!(key));
                    }
                    if let Some(m) = &netmask {
                        bk.insert("netmask".into(), json!(m));
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.insert("is_ipv6".into(), json!(ip.is_ipv6));
                    bk.insert("prefix_length".into(), json!(ip.prefix_length));
                    bk.extend(subs);
                    list.push((key, bk));
                }
                if ip.keyed {
                    let m: Map<String, Value> = list
                        .into_iter()
                        .map(|(k, b)| (k, Value::Object(b)))
                        .collect();
                    out.insert("buckets".into(), Value::Object(m));
                } else {
                    out.insert(
                        "buckets".into(),
                        Value::Array(list.into_iter().map(|(_, b)| Value::Object(b)).collect()),
                    );
                }
            }
            Bucket::Sampler(bucket::Sampler::Random { probability, seed }) => {
                let (n, mut subs) = self.single(&insts[0], path)?;
                if *probability < 1.0 {
                    self.scale_up(&insts[0].subs, &mut subs, 1.0 / probability);
                }
                out.insert("seed".into(), json!(seed));
                out.insert("probability".into(), json!(probability));
                out.insert("doc_count".into(), json!(n));
                out.extend(subs);
            }
            Bucket::Global
            | Bucket::Nested(_)
            | Bucket::ReverseNested
            | Bucket::Filter(_)
            | Bucket::Missing(_)
            | Bucket::Sampler(bucket::Sampler::Top { .. }) => {
                let (n, subs) = if matches!(b, Bucket::Global) {
                    let row = self.res.rows(insts[0].level, &[]).first();
                    (count_of(row), self.nodes(&insts[0].subs, Some(&[]), row)?)
                } else {
                    self.single(&insts[0], path)?
                };
                out.insert("doc_count".into(), json!(n));
                out.extend(subs);
            }
            Bucket::Filters(fs) => {
                let mut list = Vec::new();
                let names = fs
                    .filters
                    .iter()
                    .map(|(k, _)| k.clone())
                    .chain(fs.other_bucket_key.clone().map(Some));
                for (inst, key) in insts.iter().zip(names) {
                    let (n, subs) = self.single(inst, path)?;
                    let mut bk = Map::new();
                    if let Some(k) = &key
                        && !fs.keyed
                    {
                        bk.insert("key".into(), json!(k));
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    list.push((key, bk));
                }
                let mut buckets: Vec<Map<String, Value>> =
                    list.iter().map(|(_, b)| b.clone()).collect();
                pipeline::apply_parent(&pipelines, &mut buckets)?;
                if fs.keyed {
                    let mut m = Map::new();
                    for ((k, _), bk) in list.into_iter().zip(buckets) {
                        m.insert(k.unwrap_or_default(), Value::Object(bk));
                    }
                    out.insert("buckets".into(), Value::Object(m));
                } else {
                    out.insert(
                        "buckets".into(),
                        Value::Array(buckets.into_iter().map(Value::Object).collect()),
                    );
                }
            }
            Bucket::Range(r) => {
                let fmt = r
                    .format
                    .clone()
                    .or(info.date_format.clone())
                    .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into());
                let show = |x: f64| -> String {
                    if r.date {
                        crate::schema::dates::format_date(
                            (x as i64).saturating_mul(1_000_000),
                            &fmt,
                            r.time_zone.as_deref(),
                        )
                    } else {
                        java_double(x)
                    }
                };
                let mut keys = Vec::new();
                let mut buckets = Vec::new();
                for (inst, item) in insts.iter().zip(&r.ranges) {
                    let (n, subs) = self.single(inst, path)?;
                    let key = item.key.clone().unwrap_or_else(|| {
                        format!(
                            "{}-{}",
                            item.from.map(show).unwrap_or_else(|| "*".into()),
                            item.to.map(show).unwrap_or_else(|| "*".into())
                        )
                    });
                    let mut bk = Map::new();
                    if !r.keyed {
                        bk.insert("key".into(), json!(key));
                    }
                    if let Some(f) = item.from {
                        bk.insert("from".into(), json!(f));
                        if r.date {
                            bk.insert("from_as_string".into(), json!(show(f)));
                        }
                    }
                    if let Some(t) = item.to {
                        bk.insert("to".into(), json!(t));
                        if r.date {
                            bk.insert("to_as_string".into(), json!(show(t)));
                        }
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    keys.push(key);
                    buckets.push(bk);
                }
                pipeline::apply_parent(&pipelines, &mut buckets)?;
                if r.keyed {
                    let mut m = Map::new();
                    for (k, bk) in keys.into_iter().zip(buckets) {
                        m.insert(k, Value::Object(bk));
                    }
                    out.insert("buckets".into(), Value::Object(m));
                } else {
                    out.insert(
                        "buckets".into(),
                        Value::Array(buckets.into_iter().map(Value::Object).collect()),
                    );
                }
            }
            Bucket::Terms(t) => {
                let inst = &insts[0];
                let mut buckets: Vec<(Value, u64, Map<String, Value>)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let sp = Self::sub_path(path, &k);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    seen.insert(k.to_string());
                    buckets.push((k, count_of(Some(row)), subs));
                }
                if let Some(all) = all_terms {
                    for (k, _) in self.keyed_rows(
                        &Inst {
                            level: all,
                            subs: vec![],
                        },
                        Some(&[]),
                    ) {
                        if seen.insert(k.to_string()) {
                            let subs = self.nodes(&inst.subs, None, None)?;
                            buckets.push((k, 0, subs));
                        }
                    }
                }
                let key_text = |k: &Value| match k {
                    Value::String(s) => s.clone(),
                    other => render_key(info, other)
                        .1
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| other.to_string()),
                };
                buckets.retain(|(k, n, _)| *n >= t.min_doc_count && t.accepts(&key_text(k)));
                let mut rendered: Vec<(Value, u64, Map<String, Value>)> = buckets
                    .into_iter()
                    .map(|(k, n, subs)| {
                        let mut bk = Map::new();
                        let (key, kas) = render_key(info, &k);
                        bk.insert("key".into(), key);
                        if let Some(s) = kas {
                            bk.insert("key_as_string".into(), s);
                        }
                        bk.insert("doc_count".into(), json!(n));
                        bk.extend(subs);
                        (k, n, bk)
                    })
                    .collect();
                sort_buckets(&mut rendered, &t.order)?;
                let mut other: u64 = rendered.iter().skip(t.size).map(|(_, n, _)| *n).sum();
                rendered.truncate(t.size);
                if self.p.limits.contains_key(&inst.level)
                    && let Some(tot) = self
                        .keyed_rows(inst, path)
                        .first()
                        .and_then(|(_, r)| r.get(&format!("_tot{}", inst.level)))
                        .and_then(Value::as_u64)
                {
                    // Only the top `size` came back: the rest is the level's total minus them.
                    let top: u64 = rendered.iter().map(|(_, n, _)| *n).sum();
                    other = tot.saturating_sub(top);
                }
                let mut list: Vec<Map<String, Value>> =
                    rendered.into_iter().map(|(_, _, b)| b).collect();
                pipeline::apply_parent(&pipelines, &mut list)?;
                out.insert("doc_count_error_upper_bound".into(), json!(0));
                out.insert("sum_other_doc_count".into(), json!(other));
                out.insert(
                    "buckets".into(),
                    Value::Array(list.into_iter().map(Value::Object).collect()),
                );
            }
            Bucket::IpRange(r) => {
                // InternalBinaryRange: key (unless keyed), from, to, doc_count.
                let mut list = Vec::new();
                for (inst, item) in insts.iter().zip(&r.ranges) {
                    let (n, subs) = self.single(inst, path)?;
                    let mut bk = Map::new();
                    if !r.keyed {
                        bk.insert("key".into(), json!(item.key));
                    }
                    if let Some((_, f)) = &item.from {
                        bk.insert("from".into(), json!(f));
                    }
                    if let Some((_, t)) = &item.to {
                        bk.insert("to".into(), json!(t));
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    list.push(bk);
                }
                if r.keyed {
                    let mut m = Map::new();
                    for (item, bk) in r.ranges.iter().zip(list) {
                        m.insert(item.key.clone(), Value::Object(bk));
                    }
                    out.insert("buckets".into(), Value::Object(m));
                } else {
                    out.insert(
                        "buckets".into(),
                        Value::Array(list.into_iter().map(Value::Object).collect()),
                    );
                }
            }
            Bucket::RareTerms { t, max_doc_count } => {
                let inst = &insts[0];
                let mut rendered: Vec<(Value, u64, Map<String, Value>)> = Vec::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let n = count_of(Some(row));
                    let text = match &k {
                        Value::String(s) => s.clone(),
                        other => render_key(info, other)
                            .1
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| other.to_string()),
                    };
                    if n > *max_doc_count || !t.accepts(&text) {
                        continue;
                    }
                    let sp = Self::sub_path(path, &k);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    let mut bk = Map::new();
                    let (key, kas) = render_key(info, &k);
                    bk.insert("key".into(), key);
                    if let Some(s) = kas {
                        bk.insert("key_as_string".into(), s);
                    }
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    rendered.push((k, n, bk));
                }
                // InternalRareTerms: doc_count asc, then key asc.
                sort_buckets(&mut rendered, &t.order)?;
                out.insert(
                    "buckets".into(),
                    Value::Array(rendered.into_iter().map(|r| Value::Object(r.2)).collect()),
                );
            }
            Bucket::Adjacency { filters, separator } => {
                let mut keys = Vec::new();
                for i in 0..filters.len() {
                    keys.push(filters[i].0.clone());
                    for j in i + 1..filters.len() {
                        keys.push(format!("{}{separator}{}", filters[i].0, filters[j].0));
                    }
                }
                let mut list = Vec::new();
                for (inst, key) in insts.iter().zip(keys) {
                    let (n, subs) = self.single(inst, path)?;
                    // Only non-empty cells are returned.
                    if n == 0 {
                        continue;
                    }
                    let mut bk = Map::new();
                    bk.insert("key".into(), json!(key));
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    list.push((key, bk));
                }
                list.sort_by(|a, b| a.0.cmp(&b.0));
                out.insert(
                    "buckets".into(),
                    Value::Array(list.into_iter().map(|b| Value::Object(b.1)).collect()),
                );
            }
            Bucket::GeoTile { size, geohash, .. } => {
                let inst = &insts[0];
                let mut found = Vec::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let Some(key) = k.as_str() else { continue };
                    let xy: Vec<u64> = if *geohash {
                        vec![]
                    } else {
                        key.split('/').filter_map(|p| p.parse().ok()).collect()
                    };
                    let n = count_of(Some(row));
                    let sp = Self::sub_path(path, &k);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    let mut bk = Map::new();
                    bk.insert("key".into(), json!(key));
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    found.push((n, xy, bk));
                }
                // BucketPriorityQueue of InternalGeoGrid: doc_count desc, then the tile's
                // long encoding (x, then y) desc.
                // geohash cells: the base-32 alphabet is in ASCII order, so the long encoding
                // orders as the key text.
                found.sort_by(|a, b| {
                    b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then_with(|| {
                        let k = |m: &Map<String, Value>| {
                            m.get("key")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        k(&b.2).cmp(&k(&a.2))
                    })
                });
                found.truncate(*size);
                out.insert(
                    "buckets".into(),
                    Value::Array(found.into_iter().map(|f| Value::Object(f.2)).collect()),
                );
            }
            Bucket::Composite(c) => {
                let inst = &insts[0];
                let mut found: Vec<(Vec<Value>, &Row)> = Vec::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let Some(parts) = k.as_array() else { continue };
                    if parts
                        .iter()
                        .zip(&c.sources)
                        .any(|(v, s)| v.is_null() && !s.missing_bucket)
                    {
                        continue;
                    }
                    found.push((parts.clone(), row));
                }
                found.sort_by(|a, b| composite_cmp(c, &a.0, &b.0));
                if let Some(after) = &c.after {
                    let after: Vec<Value> = c
                        .sources
                        .iter()
                        .map(|s| composite_after_value(s, &after[&s.name]))
                        .collect::<Result<_, _>>()?;
                    found.retain(|(k, _)| composite_cmp(c, k, &after).is_gt());
                }
                found.truncate(c.size);
                let mut list = Vec::new();
                let mut last_key = None;
                for (parts, row) in found {
                    let raw = Value::Array(parts.clone());
                    let sp = Self::sub_path(path, &raw);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    let mut key = Map::new();
                    for ((v, s), inf) in parts.iter().zip(&c.sources).zip(infos) {
                        key.insert(s.name.clone(), composite_key_part(s, inf, v));
                    }
                    let mut bk = Map::new();
                    bk.insert("key".into(), Value::Object(key.clone()));
                    bk.insert("doc_count".into(), json!(count_of(Some(row))));
                    bk.extend(subs);
                    list.push(bk);
                    last_key = Some(key);
                }
                pipeline::apply_parent(&pipelines, &mut list)?;
                if let Some(k) = last_key {
                    out.insert("after_key".into(), Value::Object(k));
                }
                out.insert(
                    "buckets".into(),
                    Value::Array(list.into_iter().map(Value::Object).collect()),
                );
            }
            Bucket::MultiTerms(mt) => {
                let inst = &insts[0];
                let mut rendered: Vec<(Value, u64, Map<String, Value>)> = Vec::new();
                for (k, row) in self.keyed_rows(inst, path) {
                    let Some(parts) = k.as_array() else { continue };
                    let n = count_of(Some(row));
                    if parts.iter().any(Value::is_null) || n < mt.min_doc_count {
                        continue;
                    }
                    let sp = Self::sub_path(path, &k);
                    let subs = self.nodes(&inst.subs, sp.as_deref(), Some(row))?;
                    let mut key = Vec::new();
                    let mut text = Vec::new();
                    for (v, inf) in parts.iter().zip(infos) {
                        let (kv, s) = multi_key_part(inf, v);
                        key.push(kv);
                        text.push(s);
                    }
                    let mut bk = Map::new();
                    bk.insert("key".into(), Value::Array(key));
                    bk.insert("key_as_string".into(), json!(text.join("|")));
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    rendered.push((k.clone(), n, bk));
                }
                sort_buckets(&mut rendered, &mt.order)?;
                let other: u64 = rendered.iter().skip(mt.size).map(|(_, n, _)| *n).sum();
                rendered.truncate(mt.size);
                let mut list: Vec<Map<String, Value>> =
                    rendered.into_iter().map(|(_, _, b)| b).collect();
                pipeline::apply_parent(&pipelines, &mut list)?;
                out.insert("doc_count_error_upper_bound".into(), json!(0));
                out.insert("sum_other_doc_count".into(), json!(other));
                out.insert(
                    "buckets".into(),
                    Value::Array(list.into_iter().map(Value::Object).collect()),
                );
            }
            Bucket::Histogram(h) => {
                let inst = &insts[0];
                let mut by_key: BTreeMap<i64, (f64, u64, Option<&Row>)> = BTreeMap::new();
                let ord = |x: f64| (x * 1e6).round() as i64;
                for (k, row) in self.keyed_rows(inst, path) {
                    let Some(x) = k.as_f64() else { continue };
                    if let Some((lo, hi)) = h.hard_bounds
                        && (lo.is_some_and(|l| x < bucket::round_key(h, l))
                            || hi.is_some_and(|u| x > u))
                    {
                        continue;
                    }
                    by_key.insert(ord(x), (x, count_of(Some(row)), Some(row)));
                }
                if h.min_doc_count == 0 {
                    let mut lo = by_key.values().next().map(|v| v.0);
                    let mut hi = by_key.values().next_back().map(|v| v.0);
                    if let Some((emin, emax)) = h.extended_bounds {
                        if emin.is_finite() {
                            let k = bucket::round_key(h, emin);
                            lo = Some(lo.map_or(k, |l| l.min(k)));
                            hi = Some(hi.map_or(k, |x| x.max(k)));
                        }
                        if emax.is_finite() {
                            let k = bucket::round_key(h, emax);
                            hi = Some(hi.map_or(k, |x| x.max(k)));
                            lo = Some(lo.map_or(k, |l| l.min(k)));
                        }
                    }
                    if let Some((hlo, hhi)) = h.hard_bounds {
                        if let (Some(l), Some(b)) = (lo, hlo) {
                            lo = Some(l.max(bucket::round_key(h, b)));
                        }
                        if let (Some(x), Some(b)) = (hi, hhi) {
                            hi = Some(x.min(bucket::round_key(h, b)));
                        }
                    }
                    if let (Some(mut k), Some(hi)) = (lo, hi) {
                        let mut guard = 0;
                        while k <= hi + 1e-9 {
                            by_key.entry(ord(k)).or_insert((k, 0, None));
                            k = bucket::next_key(h, k);
                            guard += 1;
                            if guard > MAX_BUCKETS {
                                return Err(too_many_buckets());
                            }
                        }
                    }
                }
                let mut rendered = Vec::new();
                for (_, (x, n, row)) in by_key {
                    if n < h.min_doc_count {
                        continue;
                    }
                    let kv = if h.date.is_some() {
                        json!(x as i64)
                    } else {
                        json!(x)
                    };
                    let sp = if row.is_some() {
                        Self::sub_path(
                            path,
                            row.and_then(|r| self.own_key(inst.level, r)).unwrap_or(&kv),
                        )
                    } else {
                        None
                    };
                    let mut subs = self.nodes(&inst.subs, sp.as_deref(), row)?;
                    if h.date.is_some() {
                        self.apply_rates(&inst.subs, h, x, &mut subs);
                    }
                    let mut bk = Map::new();
                    let kas = if let Some(df) = &info.date_format {
                        let f = h.format.clone().unwrap_or_else(|| df.clone());
                        Some(crate::schema::dates::format_date(
                            (x as i64).saturating_mul(1_000_000),
                            &f,
                            h.time_zone.as_deref(),
                        ))
                    } else {
                        None
                    };
                    if let Some(s) = &kas {
                        bk.insert("key_as_string".into(), json!(s));
                    }
                    bk.insert("key".into(), kv.clone());
                    bk.insert("doc_count".into(), json!(n));
                    bk.extend(subs);
                    let label = kas.unwrap_or_else(|| java_double(x));
                    rendered.push((kv, n, bk, label));
                }
                if h.order != [(OrderKey::Key, false)] {
                    let mut tmp: Vec<(Value, u64, Map<String, Value>)> = rendered
                        .iter()
                        .map(|(k, n, b, _)| (k.clone(), *n, b.clone()))
                        .collect();
                    sort_buckets(&mut tmp, &h.order)?;
                    let labels: HashMap<String, String> = rendered
                        .iter()
                        .map(|(k, _, _, l)| (k.to_string(), l.clone()))
                        .collect();
                    rendered = tmp
                        .into_iter()
                        .map(|(k, n, b)| {
                            let l = labels.get(&k.to_string()).cloned().unwrap_or_default();
                            (k, n, b, l)
                        })
                        .collect();
                }
                let labels: Vec<String> = rendered.iter().map(|r| r.3.clone()).collect();
                let mut list: Vec<Map<String, Value>> = rendered.into_iter().map(|r| r.2).collect();
                pipeline::apply_parent(&pipelines, &mut list)?;
                if h.keyed {
                    let mut m = Map::new();
                    for (l, bk) in labels.into_iter().zip(list) {
                        m.insert(l, Value::Object(bk));
                    }
                    out.insert("buckets".into(), Value::Object(m));
                } else {
                    out.insert(
                        "buckets".into(),
                        Value::Array(list.into_iter().map(Value::Object).collect()),
                    );
                }
                if let Some(iv) = &h.auto_interval {
                    out.insert("interval".into(), json!(iv));
                }
            }
        }
        if !pipelines.is_empty()
            && !matches!(
                b,
                Bucket::Histogram(_)
                    | Bucket::Composite(_)
                    | Bucket::Terms(_)
                    | Bucket::MultiTerms(_)
                    | Bucket::Range(_)
                    | Bucket::Filters(_)
            )
        {
            let (name, _, p) = pipelines[0];
            return Err(EsError::illegal_argument(format!(
                "{} aggregation [{name}] must have a histogram, date_histogram or auto_date_histogram as parent",
                p.type_name()
            )));
        }
        Ok(out)
    }
}

/// A terms key as Elasticsearch shows it: `(key, key_as_string)`.
fn render_key(info: &KeyInfo, k: &Value) -> (Value, Option<Value>) {
    use fields::EsKind as K;
    match info.kind {
        K::Boolean => {
            let b = k.as_u64() == Some(1) || k.as_bool() == Some(true);
            (
                json!(if b { 1 } else { 0 }),
                Some(json!(if b { "true" } else { "false" })),
            )
        }
        K::Date | K::DateNanos => {
            let ms = k
                .as_i64()
                .or_else(|| k.as_f64().map(|x| x as i64))
                .unwrap_or(0);
            let f = info
                .date_format
                .clone()
                .unwrap_or_else(|| "strict_date_optional_time".into());
            (
                json!(ms),
                Some(json!(crate::schema::dates::format_date(
                    ms.saturating_mul(1_000_000),
                    &f,
                    None
                ))),
            )
        }
        K::Ip => (
            json!(crate::schema::document::render_ip(
                k.as_str().unwrap_or_default()
            )),
            None,
        ),
        k2 if k2.is_integer() => (
            k.as_i64().map(|x| json!(x)).unwrap_or_else(|| k.clone()),
            None,
        ),
        k2 if k2.is_numeric() => (
            k.as_f64().map(|x| json!(x)).unwrap_or_else(|| k.clone()),
            None,
        ),
        _ => (
            match k {
                Value::String(_) => k.clone(),
                other => json!(other.to_string()),
            },
            None,
        ),
    }
}

/// InternalComposite's order: source by source, each ascending or descending, missing values
/// first or last as `missing_order` says.
fn composite_cmp(c: &bucket::Composite, a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((x, y), s) in a.iter().zip(b).zip(&c.sources) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if s.missing_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if s.missing_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = cmp_values(x, y);
                if s.desc { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// An `after` value in the raw form of the grouped keys: dates (formatted or millis) as millis,
/// booleans as 0/1, numbers and strings as they are.
fn composite_after_value(s: &bucket::CompSource, v: &Value) -> Result<Value, EsError> {
    Ok(match v {
        Value::Bool(b) => json!(u8::from(*b)),
        Value::String(t) if s.histo.as_ref().is_some_and(|h| h.date.is_some()) => {
            let fmt = s
                .format
                .clone()
                .unwrap_or_else(|| "strict_date_optional_time||epoch_millis".into());
            let ns = crate::schema::dates::parse_date_value(v, &fmt).map_err(|e| {
                EsError::parsing(format!("failed to parse date field [{t}]: {}", e.0))
            })?;
            json!(ns / 1_000_000)
        }
        other => other.clone(),
    })
}

/// A composite key part as InternalComposite shows it: date_histogram keys as epoch millis (or
/// formatted with the source's `format`), booleans true/false, numbers, strings.
fn composite_key_part(s: &bucket::CompSource, info: &KeyInfo, v: &Value) -> Value {
    use fields::EsKind as K;
    if v.is_null() {
        return Value::Null;
    }
    if let Some(h) = &s.histo {
        let x = v.as_f64().unwrap_or(0.0);
        if h.date.is_some() {
            return match &s.format {
                Some(f) => json!(crate::schema::dates::format_date(
                    (x as i64).saturating_mul(1_000_000),
                    f,
                    h.time_zone.as_deref()
                )),
                None => json!(x as i64),
            };
        }
        return json!(x);
    }
    match info.kind {
        K::Boolean => json!(v.as_u64() == Some(1) || v.as_bool() == Some(true)),
        K::Date | K::DateNanos if s.format.is_some() => {
            render_key(info, v).1.unwrap_or(Value::Null)
        }
        _ => render_key(info, v).0,
    }
}

/// One component of a multi_terms key as InternalMultiTerms#getKey shows it (DocValueFormat:
/// dates formatted, booleans true/false, IPs as text) and its `key_as_string` part.
fn multi_key_part(info: &KeyInfo, v: &Value) -> (Value, String) {
    use fields::EsKind as K;
    match info.kind {
        K::Date | K::DateNanos | K::Boolean | K::Ip => {
            let (k, kas) = render_key(info, v);
            let s = kas
                .and_then(|x| x.as_str().map(str::to_string))
                .unwrap_or_else(|| k.as_str().map(str::to_string).unwrap_or_default());
            let shown = match info.kind {
                K::Boolean => json!(s == "true"),
                _ => json!(s),
            };
            (shown, s)
        }
        _ => {
            let (k, _) = render_key(info, v);
            let s = match &k {
                Value::String(s) => s.clone(),
                Value::Number(n) if n.is_f64() => java_double(n.as_f64().unwrap_or(0.0)),
                other => other.to_string(),
            };
            (k, s)
        }
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    if let (Value::Array(x), Value::Array(y)) = (a, b) {
        for (p, q) in x.iter().zip(y) {
            let o = cmp_values(p, q);
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        return x.len().cmp(&y.len());
    }
    if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
        return x.cmp(y);
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default()),
    }
}

/// Sorts rendered buckets by `_count`, `_key` or a sub-aggregation path (`a>b.value`).
fn sort_buckets(
    b: &mut [(Value, u64, Map<String, Value>)],
    order: &[(OrderKey, bool)],
) -> Result<(), EsError> {
    for (k, _) in order {
        if let OrderKey::Path(p) = k
            && let Some((_, _, first)) = b.first()
        {
            pipeline::check_order_path(first, p)?;
        }
    }
    b.sort_by(|x, y| {
        for (k, desc) in order {
            let o = match k {
                OrderKey::Count => x.1.cmp(&y.1),
                OrderKey::Key => cmp_values(&x.2["key"], &y.2["key"]),
                OrderKey::Path(p) => {
                    let a = pipeline::bucket_value(&x.2, p).unwrap_or(f64::NEG_INFINITY);
                    let c = pipeline::bucket_value(&y.2, p).unwrap_or(f64::NEG_INFINITY);
                    a.total_cmp(&c)
                }
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(())
}
