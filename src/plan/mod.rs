//! Planning: what to ask ClickHouse for a search. A query becomes a WHERE expression over one index's
//! table, typed by the index's mapping; sorts become ORDER BY keys.

pub mod compound;
pub mod fields;
pub mod full_text;
pub mod geo;
pub mod query_string;
pub mod runtime;
pub mod stats;
pub mod term_level;

use crate::dsl::{Bool, Query, Range};
use crate::error::EsError;
use crate::sql::expr::BalancedSum;
use crate::sql::{self, Expr};
use fields::{EsKind, Field};
use serde_json::Value;

/// Translation context: one index.
pub struct Ctx<'a> {
    pub meta: &'a crate::catalog::IndexMeta,
    /// `now` for date math, fixed per request (epoch millis).
    pub now_millis: i64,
    /// Index statistics for BM25 (see [`stats`]).
    pub stats: stats::Stats,
}

impl<'a> Ctx<'a> {
    /// A context for filters only (no scores).
    pub fn new(meta: &'a crate::catalog::IndexMeta, now_millis: i64) -> Ctx<'a> {
        Ctx {
            meta,
            now_millis,
            stats: stats::Stats::None,
        }
    }
}

/// The WHERE predicate and the `_score` expression of a query on one index. Scores that need index
/// statistics read them from one scalar subquery (two planning passes, see [`stats`]); it is
/// returned third and must be selected as [`stats::STATS_ALIAS`] wherever the score is used, as
/// the fourth (per-document field lengths) as [`stats::NORMS_ALIAS`].
pub fn filter_and_score(
    meta: &crate::catalog::IndexMeta,
    now_millis: i64,
    q: &Query,
    want_scores: bool,
) -> Result<(Expr, Expr, Option<Expr>, Option<Expr>), EsError> {
    let mut ctx = Ctx::new(meta, now_millis);
    let filter = search_filter(&ctx, q)?;
    if !want_scores {
        return Ok((filter, sql::lit(0.0), None, None));
    }
    ctx.stats = stats::Stats::Collect(Default::default());
    score(&ctx, q)?;
    let from = meta.from_clause();
    let collected = std::mem::replace(&mut ctx.stats, stats::Stats::None);
    ctx.stats = collected.resolve(from, meta.rows());
    let score = score(&ctx, q)?;
    Ok((filter, score, ctx.stats.item(), ctx.stats.norms_item()))
}

/// The WHERE predicate of a search's query on one index: the query, and the filter of the
/// filtered aliases the search reached the index through (filter context: it does not score;
/// indices-aliases.html "filter").
pub fn search_filter(ctx: &Ctx, q: &Query) -> Result<Expr, EsError> {
    let max = crate::limits::MAX_CLAUSE_COUNT;
    if q.leaf_count() as u64 > max {
        return Err(crate::dsl::too_many_clauses(max));
    }
    let matched = filter(ctx, q)?;
    match &ctx.meta.alias_filter {
        None => Ok(matched),
        Some(v) => {
            let alias_query = crate::dsl::parse_query(v)?;
            Ok(matched.and(filter(ctx, &alias_query)?))
        }
    }
}

pub(crate) fn never() -> Expr {
    sql::lit(false)
}

pub(crate) fn always() -> Expr {
    sql::lit(true)
}

/// A predicate on every value of a field: scalar columns test the value (NULL counts as no match),
/// array columns test whether any element matches.
pub(crate) fn any_value(f: &Field, pred: impl Fn(Expr) -> Expr) -> Expr {
    if f.is_array {
        let x = sql::Ident::new("x");
        Expr::func(
            "arrayExists",
            vec![
                Expr::Lambda(vec![x.clone()], Box::new(pred(Expr::Column(x)))),
                f.column_expr(),
            ],
        )
    } else {
        Expr::func("ifNull", vec![pred(f.column_expr()), sql::lit(false)])
    }
}

/// A keyword value as Elasticsearch indexes it: longer than `ignore_above` means not indexed.
pub(crate) fn keyword_pred(f: &Field, pred: impl Fn(Expr) -> Expr) -> Expr {
    match f.ignore_above {
        Some(n) => any_value(f, |x| {
            Expr::func("lengthUTF8", vec![x.clone()])
                .lte(sql::lit(n))
                .and(pred(x))
        }),
        None => any_value(f, pred),
    }
}

pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tokens of a text field in a document, as an `Array(String)` expression, for queries that
/// work on indexed terms (term, prefix, wildcard, regexp, fuzzy on `text` fields).
/// The single entry point for token access: its internals will move to precomputed token columns
/// made by the standard analyzer at ingest, without callers changing.
pub(crate) fn tokens_expr(f: &Field) -> Expr {
    if let Some(tc) = f.tokens_column.as_deref() {
        return sql::col(tc);
    }
    // Tables without token columns (created by others): ClickHouse's word tokenizer, close to
    // UAX #29 for ASCII text.
    let tokenize = |x: Expr| {
        Expr::func(
            "tokens",
            vec![Expr::func("lowerUTF8", vec![x]), sql::lit("unicodeWord")],
        )
    };
    if f.is_array {
        Expr::func(
            "arrayFlatten",
            vec![Expr::func(
                "arrayMap",
                vec![sql::lambda(["v"], tokenize(sql::col("v"))), f.column_expr()],
            )],
        )
    } else {
        Expr::func(
            "ifNull",
            vec![tokenize(f.column_expr()), Expr::Array(vec![])],
        )
    }
}

/// A predicate on the tokens of a text field: true if any token satisfies `pred`.
pub(crate) fn any_token(f: &Field, pred: impl Fn(Expr) -> Expr) -> Expr {
    let t = sql::Ident::new("t");
    Expr::func(
        "arrayExists",
        vec![
            Expr::Lambda(vec![t.clone()], Box::new(pred(Expr::Column(t)))),
            tokens_expr(f),
        ],
    )
}

pub(crate) fn number_literal(f: &Field, v: &Value, query: &str) -> Result<Option<Expr>, EsError> {
    let text = value_text(v);
    let bad = || {
        EsError::new(
            400,
            "query_shard_exception",
            format!("failed to create query: For input string: \"{text}\""),
        )
        .with("index_uuid", "_na_")
        .caused_by(EsError::new(
            400,
            "number_format_exception",
            format!("For input string: \"{text}\""),
        ))
    };
    let n: f64 = match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().map_err(|_| bad())?,
        Value::Bool(_) => return Err(bad()),
        _ => return Err(bad()),
    };
    let _ = query;
    if f.kind.is_integer() {
        if n.fract() != 0.0 {
            // NumberFieldMapper: "Value [5.5] has a decimal part" → matches nothing.
            return Ok(None);
        }
        if let Value::Number(num) = v
            && let Some(i) = num.as_i64()
        {
            return Ok(Some(sql::lit(i)));
        }
        if let Value::Number(num) = v
            && let Some(u) = num.as_u64()
        {
            return Ok(Some(sql::lit(u)));
        }
        return Ok(Some(sql::lit(n as i64)));
    }
    Ok(Some(sql::lit(n)))
}

pub(crate) fn bool_literal(v: &Value) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" || s.is_empty() => Ok(false),
        other => Err(EsError::new(
            400,
            "query_shard_exception",
            format!(
                "failed to create query: Can't parse boolean value [{}], expected [true] or [false]",
                value_text(other)
            ),
        )),
    }
}

pub(crate) fn date_literal(f: &Field, nanos: i64) -> Expr {
    let precision = if f.kind == EsKind::DateNanos { 9 } else { 3 };
    Expr::func(
        "toDateTime64",
        vec![
            sql::lit(
                crate::schema::dates::to_clickhouse_datetime64(nanos, precision)
                    .unwrap_or_default(),
            ),
            sql::lit(precision as u64),
            sql::lit("UTC"),
        ],
    )
}

pub(crate) fn parse_date_bound(
    ctx: &Ctx,
    f: &Field,
    v: &Value,
    format: Option<&str>,
    tz: Option<&str>,
    round_up: bool,
) -> Result<i64, EsError> {
    let fmt = format
        .or(f.format.as_deref())
        .unwrap_or("strict_date_optional_time||epoch_millis");
    let text = value_text(v);
    crate::schema::dates::parse_date_math(&text, fmt, ctx.now_millis, round_up, tz).map_err(|e| {
        EsError::new(
            400,
            "parse_exception",
            format!("failed to parse date field [{text}] with format [{fmt}]: [{e}]"),
        )
    })
}

/// An IP literal typed like the column (IPv4 columns of existing tables, IPv6 otherwise, where
/// IPv4 addresses are stored mapped).
pub(crate) fn ip_literal(f: &Field, ip: std::net::IpAddr) -> Option<Expr> {
    use std::net::IpAddr;
    if matches!(f.column_type.element(), crate::sql::ChType::IPv4) {
        let v4 = match ip {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => a.to_ipv4_mapped()?,
        };
        return Some(Expr::func("toIPv4", vec![sql::lit(v4.to_string())]));
    }
    let v6 = match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    Some(Expr::func("toIPv6", vec![sql::lit(v6.to_string())]))
}

/// Parses `a.b.c.d`, an IPv6 address, or a CIDR block into its first and last address.
pub(crate) fn ip_range(text: &str) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (text, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let Some(bits) = bits else {
        return Some((ip, ip));
    };
    Some(match ip {
        IpAddr::V4(a) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let n = u32::from(a) & mask;
            (
                IpAddr::V4(Ipv4Addr::from(n)),
                IpAddr::V4(Ipv4Addr::from(n | !mask)),
            )
        }
        IpAddr::V6(a) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let n = u128::from(a) & mask;
            (
                IpAddr::V6(Ipv6Addr::from(n)),
                IpAddr::V6(Ipv6Addr::from(n | !mask)),
            )
        }
        _ => return None,
    })
}

fn ip_error(text: &str) -> EsError {
    EsError::new(
        400,
        "query_shard_exception",
        format!("failed to create query: '{text}' is not an IP string literal."),
    )
}

/// `term` on an ip field: an address, or a CIDR block (ip.html#query-ip-fields).
pub(crate) fn ip_pred(f: &Field, v: &Value) -> Result<Expr, EsError> {
    let text = value_text(v);
    let (lo, hi) = ip_range(&text).ok_or_else(|| ip_error(&text))?;
    let (Some(lo), Some(hi)) = (ip_literal(f, lo), ip_literal(f, hi)) else {
        return Ok(never());
    };
    Ok(if text.contains('/') {
        any_value(f, move |x| x.clone().gte(lo.clone()).and(x.lte(hi.clone())))
    } else {
        any_value(f, move |x| x.eq(lo.clone()))
    })
}

/// The exact-value predicate of `term`/`terms` for one value.
pub(crate) fn term_pred(
    ctx: &Ctx,
    f: &Field,
    v: &Value,
    case_insensitive: bool,
) -> Result<Expr, EsError> {
    Ok(match f.kind {
        EsKind::Keyword | EsKind::Wildcard | EsKind::Other => {
            let s = value_text(v);
            if case_insensitive {
                let lower = sql::lit(s.to_lowercase());
                keyword_pred(f, move |x| {
                    Expr::func("lowerUTF8", vec![x]).eq(lower.clone())
                })
            } else if f.ignore_above.is_none_or(|n| s.chars().count() as u64 <= n) {
                // A stored value equal to the term has the term's length: within ignore_above, so
                // indexed. The plain equality lets ClickHouse use the column's indexes.
                let lit = sql::lit(s);
                any_value(f, move |x| x.eq(lit.clone()))
            } else {
                // Longer than ignore_above: no indexed value can equal it.
                never()
            }
        }
        EsKind::ConstantKeyword => {
            let matches = f.constant_value.as_deref() == Some(value_text(v).as_str());
            if matches { always() } else { never() }
        }
        EsKind::Text => {
            // A term query is not analysed: it matches a token exactly as indexed (lower-cased).
            Expr::func("has", vec![tokens_expr(f), sql::lit(value_text(v))])
        }
        k if k.is_numeric() => match number_literal(f, v, "term")? {
            Some(n) => any_value(f, move |x| x.eq(n.clone())),
            None => never(),
        },
        EsKind::Boolean => {
            let b = sql::lit(bool_literal(v)?);
            any_value(f, move |x| x.eq(b.clone()))
        }
        EsKind::Date | EsKind::DateNanos => {
            // DateFieldMapper#termQuery is a range [v, v] with date-math rounding on both ends.
            let lo = date_literal(f, parse_date_bound(ctx, f, v, None, None, false)?);
            let hi = date_literal(f, parse_date_bound(ctx, f, v, None, None, true)?);
            any_value(f, move |x| x.clone().gte(lo.clone()).and(x.lte(hi.clone())))
        }
        EsKind::Ip => ip_pred(f, v)?,
        _ => {
            return Err(EsError::unsupported(format!(
                "term query on a field of type [{}]",
                f.es_type
            )));
        }
    })
}

pub(crate) fn range_pred(ctx: &Ctx, f: &Field, r: &Range) -> Result<Expr, EsError> {
    let mut parts: Vec<Box<dyn Fn(Expr) -> Expr>> = Vec::new();
    let bounds = [
        (&r.gt, "gt"),
        (&r.gte, "gte"),
        (&r.lt, "lt"),
        (&r.lte, "lte"),
    ];
    for (bound, op) in bounds {
        let Some(v) = bound else { continue };
        let lit: Expr = match f.kind {
            EsKind::Date | EsKind::DateNanos => {
                // Rounding: gt and lte round up, gte and lt round down (range-query docs,
                // "date math and rounding").
                let up = op == "gt" || op == "lte";
                date_literal(
                    f,
                    parse_date_bound(ctx, f, v, r.format.as_deref(), r.time_zone.as_deref(), up)?,
                )
            }
            k if k.is_numeric() => {
                let text = value_text(v);
                let n: f64 = match v {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    _ => text.trim().parse().map_err(|_| {
                        EsError::new(
                            400,
                            "query_shard_exception",
                            format!("failed to create query: For input string: \"{text}\""),
                        )
                    })?,
                };
                if f.kind.is_integer() {
                    // Integer fields: gt 5.5 means gte 6, lt 5.5 means lte 5 (NumberFieldMapper).
                    let n = match op {
                        "gt" | "gte" => n.ceil(),
                        _ => n.floor(),
                    };
                    let strict = n == value_text(v).parse::<f64>().unwrap_or(n);
                    let op2 = if !strict && op == "gt" {
                        "gte"
                    } else if !strict && op == "lt" {
                        "lte"
                    } else {
                        op
                    };
                    let l = sql::lit(n as i64);
                    parts.push(cmp(op2, l));
                    continue;
                }
                sql::lit(n)
            }
            EsKind::Keyword | EsKind::Wildcard | EsKind::Text | EsKind::Other => {
                sql::lit(value_text(v))
            }
            EsKind::Ip => {
                let text = value_text(v);
                let (lo, hi) = ip_range(&text).ok_or_else(|| ip_error(&text))?;
                // A CIDR bound covers its whole block: gte/gt use its first address, lte/lt its last.
                let ip = if op == "gte" || op == "lt" { lo } else { hi };
                match ip_literal(f, ip) {
                    Some(l) => l,
                    None => return Ok(never()),
                }
            }
            EsKind::Boolean => sql::lit(bool_literal(v)?),
            _ => {
                return Err(EsError::unsupported(format!(
                    "range query on a field of type [{}]",
                    f.es_type
                )));
            }
        };
        parts.push(cmp(op, lit));
    }
    if parts.is_empty() {
        // A range with no bounds matches every document that has the field.
        return Ok(exists_pred(ctx, f));
    }
    let combined = move |x: Expr| Expr::And(parts.iter().map(|p| p(x.clone())).collect());
    Ok(if matches!(f.kind, EsKind::Keyword) {
        keyword_pred(f, combined)
    } else {
        any_value(f, combined)
    })
}

fn cmp(op: &str, lit: Expr) -> Box<dyn Fn(Expr) -> Expr> {
    let op = op.to_string();
    Box::new(move |x: Expr| match op.as_str() {
        "gt" => x.gt(lit.clone()),
        "gte" => x.gte(lit.clone()),
        "lt" => x.lt(lit.clone()),
        _ => x.lte(lit.clone()),
    })
}

pub(crate) fn exists_pred(_ctx: &Ctx, f: &Field) -> Expr {
    if f.is_array {
        Expr::func("notEmpty", vec![f.column_expr()])
    } else if f.kind == EsKind::Keyword && f.ignore_above.is_some() {
        keyword_pred(f, |_| always())
    } else {
        f.column_expr().is_not_null()
    }
}

/// The `_tier` metadata field of an index: the first tier of its tier preference, `data_content`
/// for an index created without one (DataTier / TierFieldMapper in Elasticsearch). Kibana's
/// autocomplete excludes `data_frozen` with a `terms` query on it.
fn tier_of(meta: &crate::catalog::IndexMeta) -> &'static str {
    if meta.name.starts_with(".ds-") {
        "data_hot"
    } else {
        "data_content"
    }
}

/// Translates a query into a WHERE expression for one index.
pub fn filter(ctx: &Ctx, q: &Query) -> Result<Expr, EsError> {
    Ok(match q {
        Query::MatchAll { .. } => always(),
        Query::MatchNone => never(),
        Query::Term {
            field,
            value,
            case_insensitive,
            ..
        } => match fields::resolve(ctx.meta, field) {
            Some(f) => term_pred(ctx, &f, value, *case_insensitive)?,
            None if field == "_id" => {
                sql::col(crate::catalog::COL_ID).eq(sql::lit(value_text(value)))
            }
            None if field == "_index" => sql::lit(ctx.meta.name == value_text(value)),
            None if field == "_tier" => sql::lit(tier_of(ctx.meta) == value_text(value)),
            None => never(),
        },
        Query::Terms { field, values, .. } => {
            // TermsQueryBuilder#doToQuery: the number of values against `index.max_terms_count`.
            let max = crate::limits::index_setting(
                ctx.meta,
                "max_terms_count",
                crate::limits::MAX_TERMS_COUNT,
            );
            if values.len() as u64 > max {
                return Err(EsError::illegal_argument(format!(
                    "The number of terms [{}] used in the Terms Query request has exceeded the allowed maximum of [{max}]. This maximum can be set by changing the [index.max_terms_count] index level setting.",
                    values.len()
                )));
            }
            if field == "_id" {
                return Ok(sql::col(crate::catalog::COL_ID)
                    .in_list(values.iter().map(|v| sql::lit(value_text(v))).collect()));
            }
            if field == "_index" {
                return Ok(sql::lit(
                    values.iter().any(|v| value_text(v) == ctx.meta.name),
                ));
            }
            if field == "_tier" {
                let tier = tier_of(ctx.meta);
                return Ok(sql::lit(values.iter().any(|v| value_text(v) == tier)));
            }
            match fields::resolve(ctx.meta, field) {
                None => never(),
                Some(f)
                    if matches!(f.kind, EsKind::Keyword)
                        && !f.is_array
                        && f.ignore_above.is_none() =>
                {
                    // One IN list instead of a chain of ORs.
                    let list: Vec<Expr> = values.iter().map(|v| sql::lit(value_text(v))).collect();
                    any_value(&f, move |x| x.in_list(list.clone()))
                }
                Some(f) => {
                    let mut ors = Vec::new();
                    for v in values {
                        ors.push(term_pred(ctx, &f, v, false)?);
                    }
                    Expr::Or(ors)
                }
            }
        }
        Query::Range(r) => match fields::resolve(ctx.meta, &r.field) {
            Some(f) => range_pred(ctx, &f, r)?,
            None => never(),
        },
        Query::Exists { field, .. } => {
            if field == "_id" || field == "_index" || field == "_source" {
                return Ok(always());
            }
            match fields::resolve(ctx.meta, field) {
                Some(f) => exists_pred(ctx, &f),
                None => {
                    // An object path: exists if any leaf below it exists.
                    let leaves = fields::leaves_under(ctx.meta, field);
                    if leaves.is_empty() {
                        never()
                    } else {
                        Expr::Or(leaves.iter().map(|f| exists_pred(ctx, f)).collect())
                    }
                }
            }
        }
        Query::Ids { values, .. } => {
            if values.is_empty() {
                never()
            } else {
                sql::col(crate::catalog::COL_ID)
                    .in_list(values.iter().map(|v| sql::lit(v.as_str())).collect())
            }
        }
        Query::Bool(b) => bool_filter(ctx, b)?,
        Query::Match(q) => full_text::filter_match(ctx, q)?,
        Query::MatchPhrase(q) => full_text::filter_match_phrase(ctx, q)?,
        Query::MultiMatch(q) => full_text::filter_multi_match(ctx, q)?,
        Query::Prefix(q) => term_level::filter_prefix(ctx, q)?,
        Query::Wildcard(q) => term_level::filter_wildcard(ctx, q)?,
        Query::Regexp(q) => term_level::filter_regexp(ctx, q)?,
        Query::Fuzzy(q) => term_level::filter_fuzzy(ctx, q)?,
        Query::ConstantScore(q) => compound::filter_constant_score(ctx, q)?,
        Query::Boosting(q) => compound::filter_boosting(ctx, q)?,
        Query::DisMax(q) => compound::filter_dis_max(ctx, q)?,
        Query::Nested(q) => compound::filter_nested(ctx, q)?,
        Query::GeoBoundingBox(q) => geo::filter_geo_bounding_box(ctx, q)?,
        Query::GeoDistance(q) => geo::filter_geo_distance(ctx, q)?,
        Query::QueryString(q) => query_string::filter_query_string(ctx, q)?,
        Query::SimpleQueryString(q) => query_string::filter_simple_query_string(ctx, q)?,
    })
}

/// At least `required` of `clauses` hold: Lucene's minimum_should_match over SHOULD clauses (more
/// required than there are clauses matches nothing; it is never lowered).
pub(crate) fn at_least(clauses: Vec<Expr>, required: usize) -> Expr {
    let n = clauses.len();
    if required == 0 {
        always()
    } else if required > n {
        never()
    } else if required == n {
        Expr::And(clauses)
    } else if required == 1 {
        Expr::Or(clauses)
    } else {
        let sum = clauses
            .into_iter()
            .map(|e| Expr::func("toUInt32", vec![e]))
            .balanced_sum()
            .expect("non-empty");
        sum.gte(sql::lit(required as u64))
    }
}

fn bool_filter(ctx: &Ctx, b: &Bool) -> Result<Expr, EsError> {
    let mut and = Vec::new();
    for q in b.must.iter().chain(&b.filter) {
        and.push(filter(ctx, q)?);
    }
    for q in &b.must_not {
        and.push(filter(ctx, q)?.not());
    }
    if !b.should.is_empty() {
        // Without must/filter clauses one should clause is required; with them none is
        // (BoolQueryBuilder), unless minimum_should_match says otherwise.
        let required = match &b.minimum_should_match {
            Some(m) => m.required(b.should.len()),
            None if b.must.is_empty() && b.filter.is_empty() => 1,
            None => 0,
        };
        let shoulds: Vec<Expr> = b
            .should
            .iter()
            .map(|q| filter(ctx, q))
            .collect::<Result<_, _>>()?;
        and.push(at_least(shoulds, required));
    } else if let Some(m) = &b.minimum_should_match
        && m.required(0) > 0
    {
        and.push(never());
    }
    Ok(Expr::And(and))
}

/// The `_score` of a document for `q`, as an expression. Constant-score queries (terms, range,
/// exists, ids) score their boost, filter and must_not clauses score nothing, bool sums its scoring
/// clauses, as in Elasticsearch. `term` on keyword/text scores its boost here: BM25 is the search
/// issue's work (documented in docs/search.md).
pub fn score(ctx: &Ctx, q: &Query) -> Result<Expr, EsError> {
    Ok(match q {
        Query::MatchAll { boost } => sql::lit(*boost),
        Query::MatchNone => sql::lit(0.0),
        Query::Term {
            field,
            value,
            case_insensitive: false,
            boost,
        } => match fields::resolve(ctx.meta, field) {
            // Exact-value terms on keyword-like and text fields are scored by BM25; other types
            // (numbers, dates, ips, booleans) are point queries with a constant score.
            Some(f)
                if matches!(
                    f.kind,
                    EsKind::Keyword | EsKind::Text | EsKind::Wildcard | EsKind::Other
                ) =>
            {
                stats::bm25(&ctx.stats, &f, &value_text(value), *boost)
            }
            _ => sql::lit(*boost),
        },
        Query::Term { boost, .. }
        | Query::Terms { boost, .. }
        | Query::Exists { boost, .. }
        | Query::Ids { boost, .. } => sql::lit(*boost),
        Query::Range(r) => sql::lit(r.boost),
        Query::Match(q) => full_text::score_match(ctx, q)?,
        Query::MatchPhrase(q) => full_text::score_match_phrase(ctx, q)?,
        Query::MultiMatch(q) => full_text::score_multi_match(ctx, q)?,
        Query::Prefix(q) => term_level::score_prefix(ctx, q)?,
        Query::Wildcard(q) => term_level::score_wildcard(ctx, q)?,
        Query::Regexp(q) => term_level::score_regexp(ctx, q)?,
        Query::Fuzzy(q) => term_level::score_fuzzy(ctx, q)?,
        Query::ConstantScore(q) => compound::score_constant_score(ctx, q)?,
        Query::Boosting(q) => compound::score_boosting(ctx, q)?,
        Query::DisMax(q) => compound::score_dis_max(ctx, q)?,
        Query::Nested(q) => compound::score_nested(ctx, q)?,
        Query::GeoBoundingBox(q) => geo::score_geo_bounding_box(ctx, q)?,
        Query::GeoDistance(q) => geo::score_geo_distance(ctx, q)?,
        Query::QueryString(q) => query_string::score_query_string(ctx, q)?,
        Query::SimpleQueryString(q) => query_string::score_simple_query_string(ctx, q)?,
        Query::Bool(b) => {
            let mut terms = Vec::new();
            for c in &b.must {
                terms.push(score(ctx, c)?);
            }
            for c in &b.should {
                terms.push(Expr::func(
                    "if",
                    vec![filter(ctx, c)?, score(ctx, c)?, sql::lit(0.0)],
                ));
            }
            let sum = terms.into_iter().balanced_sum().unwrap_or(sql::lit(0.0));
            if b.boost != 1.0 {
                sum * sql::lit(b.boost)
            } else {
                sum
            }
        }
    })
}
