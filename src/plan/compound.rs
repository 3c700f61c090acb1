//! Compound queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! # Nested queries
//!
//! Every leaf under a `nested` path is stored as an array with one element per nested object,
//! positions aligned across the leaves of that path (docs/schema.md). A nested query must match
//! when ONE object satisfies the whole inner query, so the inner query becomes the body of a lambda
//! over the aligned arrays:
//!
//! ```sql
//! arrayExists((`__object`, `items.name`, `items.qty`) -> `items.name` = 'x' AND `items.qty` > 3,
//!             range(n), arrayResize(`items.name`, n), arrayResize(`items.qty`, n))
//! ```
//!
//! The lambda's parameters carry the columns' own names, so inside the body they shadow the
//! columns and denote one object's values. The inner query is translated by the ordinary
//! [`super::filter`]/[`super::score`] against a *scoped* copy of the index metadata in which the
//! columns of the nested path have their element type (`Nullable(T)` for one value per object,
//! `Array(T)` for several) and every other column is absent. So every query type that resolves its
//! fields through `fields::resolve` works inside `nested` unchanged (term, terms, range, exists,
//! match, prefix, bool, geo, …), and fields outside the nested path match nothing, as in
//! Elasticsearch where they are not part of the nested documents.
//!
//! `n` is the largest length among all leaf columns of the path (a column added after a document
//! was written is empty for it); `arrayResize` pads the others with NULL (or `[]`), which is what a
//! missing value in that object is. A nested query inside a nested query needs the link between
//! inner and outer objects, which storage does not keep yet: refused with a 400.

use super::{Ctx, fields, never};
use crate::catalog::IndexMeta;
use crate::dsl::Query;
use crate::dsl::compound::{Boosting, ConstantScore, DisMax, Nested, NestedScoreMode};
use crate::error::EsError;
use crate::sql::expr::BalancedSum;
use crate::sql::{self, ChType, Expr, Ident};
use std::collections::BTreeSet;

pub fn filter_constant_score(ctx: &Ctx, q: &ConstantScore) -> Result<Expr, EsError> {
    super::filter(ctx, &q.filter)
}

pub fn score_constant_score(_ctx: &Ctx, q: &ConstantScore) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

pub fn filter_boosting(ctx: &Ctx, q: &Boosting) -> Result<Expr, EsError> {
    super::filter(ctx, &q.positive)
}

/// The positive score, times `negative_boost` when the negative query matches too.
pub fn score_boosting(ctx: &Ctx, q: &Boosting) -> Result<Expr, EsError> {
    let positive = super::score(ctx, &q.positive)?;
    let negative = super::filter(ctx, &q.negative)?;
    let scored = Expr::func(
        "if",
        vec![
            negative,
            positive.clone() * sql::lit(q.negative_boost),
            positive,
        ],
    );
    Ok(with_boost(scored, q.boost))
}

fn with_boost(e: Expr, boost: f64) -> Expr {
    if boost == 1.0 { e } else { e * sql::lit(boost) }
}

pub fn filter_dis_max(ctx: &Ctx, q: &DisMax) -> Result<Expr, EsError> {
    let parts = q
        .queries
        .iter()
        .map(|c| super::filter(ctx, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sql::or_all(parts))
}

/// The best matching clause's score plus `tie_breaker` times the scores of the other matching
/// clauses (Lucene's DisjunctionMaxQuery).
pub fn score_dis_max(ctx: &Ctx, q: &DisMax) -> Result<Expr, EsError> {
    let mut clauses = Vec::new();
    for c in &q.queries {
        clauses.push(Expr::func(
            "if",
            vec![super::filter(ctx, c)?, super::score(ctx, c)?, sql::lit(0.0)],
        ));
    }
    if clauses.len() == 1 {
        return Ok(with_boost(clauses.pop().expect("one clause"), q.boost));
    }
    let max = Expr::func("greatest", clauses.clone());
    let sum = clauses
        .into_iter()
        .balanced_sum()
        .expect("dis_max has clauses");
    let scored = if q.tie_breaker == 0.0 {
        max
    } else {
        max.clone() + sql::lit(q.tie_breaker) * (sum - max)
    };
    Ok(with_boost(scored, q.boost))
}

/// The columns of one nested path, and the index metadata the inner query is translated with.
struct NestedScope {
    /// Every leaf column of the path with its stored type.
    columns: Vec<String>,
    meta: IndexMeta,
}

fn nested_error(msg: String) -> EsError {
    EsError::new(400, "query_shard_exception", msg).with("index_uuid", "_na_")
}

fn contains_nested(q: &Query) -> bool {
    match q {
        Query::Nested(_) => true,
        Query::Bool(b) => b
            .must
            .iter()
            .chain(&b.filter)
            .chain(&b.should)
            .chain(&b.must_not)
            .any(contains_nested),
        Query::ConstantScore(c) => contains_nested(&c.filter),
        Query::Boosting(b) => contains_nested(&b.positive) || contains_nested(&b.negative),
        Query::DisMax(d) => d.queries.iter().any(contains_nested),
        _ => false,
    }
}

/// The scope of a nested query, `None` when it matches nothing (ignored unmapped path, or no
/// document has a value under the path yet).
fn nested_scope(ctx: &Ctx, q: &Nested) -> Result<Option<NestedScope>, EsError> {
    match ctx.meta.mappings.object_at(&q.path) {
        Some((true, _)) => {}
        Some((false, _)) => {
            return Err(nested_error(format!(
                "[nested] nested object under path [{}] is not of nested type",
                q.path
            )));
        }
        None if fields::is_mapped(ctx.meta, &q.path) => {
            return Err(nested_error(format!(
                "[nested] nested object under path [{}] is not of nested type",
                q.path
            )));
        }
        None if q.ignore_unmapped => return Ok(None),
        None => {
            return Err(nested_error(format!(
                "[nested] failed to find nested object under path [{}]",
                q.path
            )));
        }
    }
    if contains_nested(&q.query) {
        return Err(EsError::unsupported(
            "a nested query inside a nested query (multi-level nested)",
        ));
    }
    let mut columns = BTreeSet::new();
    for f in ctx.meta.mappings.leaf_fields() {
        if f.nested_path.as_deref() == Some(q.path.as_str())
            && let Some(c) = f.column
            && let Some(physical) = ctx.meta.physical_column(&c)
        {
            columns.insert(physical.to_string());
        }
    }
    if columns.is_empty() {
        return Ok(None);
    }
    let mut meta = ctx.meta.clone();
    meta.nested_scope = Some(q.path.clone());
    meta.columns = columns
        .iter()
        .map(|c| {
            let stored = &ctx.meta.columns[c];
            let element = match stored.base() {
                ChType::Array(inner) => inner.as_ref().clone(),
                other => other.clone(),
            };
            (c.clone(), element)
        })
        .collect();
    Ok(Some(NestedScope {
        columns: columns.into_iter().collect(),
        meta,
    }))
}

/// Every column name an expression refers to.
fn referenced_columns(e: &Expr, out: &mut BTreeSet<String>) {
    let all = |v: &[Expr], out: &mut BTreeSet<String>| {
        for x in v {
            referenced_columns(x, out);
        }
    };
    match e {
        Expr::Column(c) => {
            out.insert(c.as_str().to_string());
        }
        Expr::Func { params, args, .. } => {
            all(params, out);
            all(args, out);
        }
        Expr::Binary { left, right, .. } => {
            referenced_columns(left, out);
            referenced_columns(right, out);
        }
        Expr::Neg(x) | Expr::Not(x) | Expr::IsNull(x) | Expr::IsNotNull(x) => {
            referenced_columns(x, out)
        }
        Expr::And(v) | Expr::Or(v) | Expr::Array(v) | Expr::Tuple(v) => all(v, out),
        Expr::In { expr, list, .. } => {
            referenced_columns(expr, out);
            all(list, out);
        }
        Expr::InSubquery { expr, .. } => referenced_columns(expr, out),
        Expr::Lambda(_, body) => referenced_columns(body, out),
        Expr::Cast { expr, .. } => referenced_columns(expr, out),
        Expr::Case { whens, else_ } => {
            for (a, b) in whens {
                referenced_columns(a, out);
                referenced_columns(b, out);
            }
            if let Some(x) = else_ {
                referenced_columns(x, out);
            }
        }
        Expr::Interval { value, .. } => referenced_columns(value, out),
        Expr::Qualified(..) | Expr::Lit(_) | Expr::Star | Expr::Subquery(_) => {}
    }
}

const OBJECT: &str = "__object";

impl NestedScope {
    /// The number of nested objects of the document.
    fn count(&self) -> Expr {
        let lengths: Vec<Expr> = self
            .columns
            .iter()
            .map(|c| Expr::func("length", vec![sql::col(c.as_str())]))
            .collect();
        if lengths.len() == 1 {
            lengths.into_iter().next().expect("one")
        } else {
            Expr::func("greatest", lengths)
        }
    }

    /// Lambda parameters and the aligned arrays for `bodies`: one per nested object.
    fn bind(&self, bodies: &[&Expr]) -> (Vec<Ident>, Vec<Expr>) {
        let mut used = BTreeSet::new();
        for b in bodies {
            referenced_columns(b, &mut used);
        }
        let n = self.count();
        let mut params = vec![Ident::new(OBJECT)];
        let mut arrays = vec![Expr::func("range", vec![n.clone()])];
        for c in &self.columns {
            if used.contains(c) {
                params.push(Ident::new(c.as_str()));
                arrays.push(Expr::func(
                    "arrayResize",
                    vec![sql::col(c.as_str()), n.clone()],
                ));
            }
        }
        (params, arrays)
    }

    /// `value` (an expression over the path's columns) of every object that matches `body`, in
    /// object order: `arrayFilter((v, m) -> m, arrayMap(value), arrayMap(body))`.
    fn matching_values(&self, body: Expr, value: Expr) -> Expr {
        let (params, arrays) = self.bind(&[&body, &value]);
        let map = |e: Expr| {
            let mut args = vec![Expr::Lambda(params.clone(), Box::new(e))];
            args.extend(arrays.iter().cloned());
            Expr::func("arrayMap", args)
        };
        Expr::func(
            "arrayFilter",
            vec![
                sql::lambda(["v", "m"], sql::col("m")),
                map(value),
                map(body),
            ],
        )
    }

    fn ctx<'a>(&'a self, outer: &Ctx) -> Ctx<'a> {
        // Per-object scores inside a nested query do not use index statistics (the columns are
        // one object's values here); documented in docs/queries-term-level.md.
        Ctx {
            meta: &self.meta,
            now_millis: outer.now_millis,
            stats: super::stats::Stats::None,
        }
    }
}

pub fn filter_nested(ctx: &Ctx, q: &Nested) -> Result<Expr, EsError> {
    let Some(scope) = nested_scope(ctx, q)? else {
        return Ok(never());
    };
    let body = super::filter(&scope.ctx(ctx), &q.query)?;
    let (params, mut arrays) = scope.bind(&[&body]);
    let mut args = vec![Expr::Lambda(params, Box::new(body))];
    args.append(&mut arrays);
    Ok(Expr::func("arrayExists", args))
}

/// The inner query's score of each matching object, combined by `score_mode`, times `boost`.
pub fn score_nested(ctx: &Ctx, q: &Nested) -> Result<Expr, EsError> {
    if q.score_mode == NestedScoreMode::None {
        return Ok(sql::lit(0.0));
    }
    let Some(scope) = nested_scope(ctx, q)? else {
        return Ok(sql::lit(0.0));
    };
    let inner = scope.ctx(ctx);
    let body = super::filter(&inner, &q.query)?;
    let score = Expr::func("toFloat64", vec![super::score(&inner, &q.query)?]);
    let matched = scope.matching_values(body, score);
    let combined = match q.score_mode {
        NestedScoreMode::Avg => "arrayAvg",
        NestedScoreMode::Max => "arrayMax",
        NestedScoreMode::Min => "arrayMin",
        NestedScoreMode::Sum | NestedScoreMode::None => "arraySum",
    };
    let scored = Expr::func(
        "if",
        vec![
            Expr::func("empty", vec![matched.clone()]),
            sql::lit(0.0),
            Expr::func("toFloat64", vec![Expr::func(combined, vec![matched])]),
        ],
    );
    Ok(with_boost(scored, q.boost))
}

/// Nested sorting (sort-search-results.html#nested-sorting): the values of `field` in those
/// objects of the nested `path` that match `filter` (every object without one), as one array per
/// document, with the field as the nested scope resolves it. `None` when no document has a value
/// under the path or in the field yet (the sort key is then missing everywhere).
pub fn nested_sort_values(
    ctx: &Ctx,
    path: &str,
    filter: Option<&Query>,
    max_children: Option<u64>,
    field: &str,
) -> Result<Option<(fields::Field, Expr)>, EsError> {
    let q = Nested {
        path: path.to_string(),
        query: filter.cloned().unwrap_or(Query::MatchAll { boost: 1.0 }),
        score_mode: NestedScoreMode::None,
        ignore_unmapped: false,
        boost: 1.0,
        inner_hits: None,
    };
    let Some(scope) = nested_scope(ctx, &q)? else {
        return Ok(None);
    };
    match ctx.meta.mappings.field(field) {
        Some(info) if info.nested_path.as_deref() == Some(path) => {}
        Some(_) => {
            return Err(nested_error(format!(
                "[nested] sort field [{field}] is not inside the nested object [{path}]"
            )));
        }
        None => return Ok(None),
    }
    let Some(f) = fields::resolve(&scope.meta, field) else {
        return Ok(None);
    };
    let inner = scope.ctx(ctx);
    let body = super::filter(&inner, &q.query)?;
    // The values of the matching objects, one entry per object; `max_children` keeps the first
    // N matching objects (Lucene's nested comparator stops after N children).
    let matching = scope.matching_values(body, f.column_expr());
    let matching = match max_children {
        Some(n) => Expr::func("arraySlice", vec![matching, sql::lit(1u64), sql::lit(n)]),
        None => matching,
    };
    let picked = if f.is_array {
        // Several values per object: flattened.
        Expr::func("arrayFlatten", vec![matching])
    } else {
        Expr::func(
            "arrayFilter",
            vec![
                sql::lambda(["v"], Expr::IsNotNull(Box::new(sql::col("v")))),
                matching,
            ],
        )
    };
    let f = fields::Field {
        is_array: true,
        ..f
    };
    Ok(Some((f, picked)))
}

/// The nested objects a nested query's `inner_hits` returns for the current document: an
/// `Array(Tuple(UInt64, Float64))` of (offset in the path's array, object score) of every
/// matching object, in offset order (inner-hits.html#nested-inner-hits).
pub fn nested_inner_hits(ctx: &Ctx, q: &Nested) -> Result<Expr, EsError> {
    let ty = ChType::Array(Box::new(ChType::Tuple(vec![
        (None, ChType::UInt64),
        (None, ChType::Float64),
    ])));
    let Some(scope) = nested_scope(ctx, q)? else {
        return Ok(Expr::Array(vec![]).cast(ty));
    };
    let inner = scope.ctx(ctx);
    let body = super::filter(&inner, &q.query)?;
    let score = Expr::func("toFloat64", vec![super::score(&inner, &q.query)?]);
    let (params, arrays) = scope.bind(&[&body, &score]);
    let object = sql::tuple(vec![
        Expr::func("toUInt64", vec![sql::col(OBJECT)]),
        score,
        Expr::func("toUInt8", vec![body]),
    ]);
    let mut args = vec![Expr::Lambda(params, Box::new(object))];
    args.extend(arrays);
    let all = Expr::func("arrayMap", args);
    let matched = Expr::func(
        "arrayFilter",
        vec![
            sql::lambda(
                ["o"],
                Expr::func("tupleElement", vec![sql::col("o"), sql::lit(3u64)]).eq(sql::lit(1u64)),
            ),
            all,
        ],
    );
    let pairs = Expr::func(
        "arrayMap",
        vec![
            sql::lambda(
                ["o"],
                sql::tuple(vec![
                    Expr::func("tupleElement", vec![sql::col("o"), sql::lit(1u64)]),
                    Expr::func("tupleElement", vec![sql::col("o"), sql::lit(2u64)]),
                ]),
            ),
            matched,
        ],
    );
    Ok(pairs.cast(ty))
}

/// The nested queries with `inner_hits` in a query, in a stable order (clauses that can match:
/// not `must_not`, as Elasticsearch's InnerHitsBuilder collects them).
pub fn nested_with_inner_hits(q: &Query) -> Vec<&Nested> {
    let mut out = Vec::new();
    fn walk<'a>(q: &'a Query, out: &mut Vec<&'a Nested>) {
        match q {
            Query::Nested(n) if n.inner_hits.is_some() => out.push(n),
            Query::Bool(b) => b
                .must
                .iter()
                .chain(&b.filter)
                .chain(&b.should)
                .for_each(|c| walk(c, out)),
            Query::ConstantScore(c) => walk(&c.filter, out),
            Query::Boosting(b) => walk(&b.positive, out),
            Query::DisMax(d) => d.queries.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    walk(q, &mut out);
    out
}
