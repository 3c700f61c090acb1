//! Index statistics for relevance scoring, and Lucene's BM25 as SQL expressions.
//!
//! Elasticsearch scores a term with BM25 (k1 = 1.2, b = 0.75) from per-shard statistics: the number
//! of documents that have the field (`docCount`), the total number of tokens of the field
//! (`sumTotalTermFreq`), and the number of documents containing the term (`docFreq`). An index is one
//! shard here, so these are computed over the index's table. Planning runs twice: the first pass
//! records which statistics the query's scores need; they become one scalar subquery
//! `(SELECT [toFloat64(…), …] FROM t FINAL)`, which ClickHouse evaluates once per query and which
//! the search selects once under [`STATS_ALIAS`]; the second pass reads them with `arrayElement`. A scored search stays one round trip, with one extra scan of the
//! columns involved; searches that need no scores (filters, sort by field, size 0) skip it.
//! (Lucene: search/similarities/BM25Similarity.java; ES docs: index-modules-similarity.html)

use super::fields::{EsKind, Field};
use crate::sql::{self, Expr};
use std::cell::RefCell;

pub const K1: f64 = 1.2;
pub const B: f64 = 0.75;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatKey {
    /// Documents with at least one indexed value in the field.
    DocCount(String),
    /// Total tokens (text) or distinct values per document (keyword) over the field.
    SumTotalTermFreq(String),
    /// Documents containing the term.
    DocFreq(String, String),
    /// The term's idf, computed from DocCount and DocFreq inside the statistics subquery (it is
    /// a constant of the query: rendering it once keeps the SQL small).
    Idf(String, String),
    /// The field's average length `sumTotalTermFreq / docCount`, as a float.
    AvgDl(String),
}

/// How a planning pass treats statistics.
pub enum Stats {
    /// Filters only: no statistics, scores are not wanted.
    None,
    /// First pass: remember which statistics (and per-document field lengths) are asked for.
    Collect(Collected),
    /// Second pass: read them from the scalar subquery, selected once as [`STATS_ALIAS`], and the
    /// field lengths from the [`NORMS_ALIAS`] array.
    Resolved {
        keys: Vec<StatKey>,
        subquery: Expr,
        norm_columns: Vec<String>,
        norms: Option<Expr>,
    },
}

/// What the first planning pass asked for.
#[derive(Default)]
pub struct Collected {
    stats: RefCell<Vec<(StatKey, Expr)>>,
    /// Per text column: its quantised field length (the Lucene norm) for the current document.
    norms: RefCell<Vec<(String, Expr)>>,
}

/// The select item with every scored text field's quantised length for the current row
/// (`Array(Float64)`), so a field's norm is rendered once, not once per query term.
pub const NORMS_ALIAS: &str = "_eh_bm25_norms";

/// The select item that carries the statistics (an `Array(Float64)`): the scalar subquery is
/// rendered once, and every score reference reads `arrayElement(alias, i)`.
pub const STATS_ALIAS: &str = "_eh_bm25_stats";

/// The indexed values of a field as an expression over the document: the token array of a text
/// field, the value (or values) of a keyword field.
fn indexed(f: &Field) -> Expr {
    if f.kind == EsKind::Text {
        super::tokens_expr(f)
    } else {
        f.column_expr()
    }
}

fn aggregate_for(f: &Field) -> impl FnOnce(&StatKey) -> Expr + '_ {
    move |k| aggregate(k, f)
}

/// The aggregate (over the index) that computes a statistic.
fn aggregate(key: &StatKey, f: &Field) -> Expr {
    let text = f.kind == EsKind::Text;
    // A keyword value longer than ignore_above is not indexed.
    let keyword_ok = |x: Expr| match f.ignore_above {
        Some(n) => Expr::func("lengthUTF8", vec![x]).lte(sql::lit(n)),
        None => sql::lit(true),
    };
    match key {
        StatKey::DocCount(_) => {
            let has = if text {
                Expr::func("notEmpty", vec![indexed(f)])
            } else if f.is_array {
                Expr::func(
                    "arrayExists",
                    vec![
                        sql::lambda(["x"], keyword_ok(sql::col("x"))),
                        f.column_expr(),
                    ],
                )
            } else {
                Expr::func("ifNull", vec![keyword_ok(f.column_expr()), sql::lit(false)])
            };
            Expr::func("countIf", vec![has])
        }
        StatKey::SumTotalTermFreq(_) => {
            let per_doc = if text {
                // Real tokens only: the empty placeholders of the position gap do not count.
                Expr::func("length", vec![indexed(f)])
                    - Expr::func("countEqual", vec![indexed(f), sql::lit("")])
            } else if f.is_array {
                Expr::func(
                    "length",
                    vec![Expr::func(
                        "arrayDistinct",
                        vec![Expr::func(
                            "arrayFilter",
                            vec![
                                sql::lambda(["x"], keyword_ok(sql::col("x"))),
                                f.column_expr(),
                            ],
                        )],
                    )],
                )
            } else {
                Expr::func(
                    "toUInt64",
                    vec![Expr::func(
                        "ifNull",
                        vec![keyword_ok(f.column_expr()), sql::lit(false)],
                    )],
                )
            };
            Expr::func("sum", vec![per_doc])
        }
        StatKey::DocFreq(_, term) => Expr::func("countIf", vec![contains(f, term)]),
        StatKey::Idf(..) | StatKey::AvgDl(_) => {
            unreachable!("derived statistics come with their own aggregate")
        }
    }
}

/// `ln(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5))` as a float, over two aggregates.
fn idf_of(dc: Expr, df: Expr) -> Expr {
    f32e(Expr::func(
        "ln",
        vec![sql::lit(1.0) + (dc - df.clone() + sql::lit(0.5)) / (df + sql::lit(0.5))],
    ))
}

/// `sumTotalTermFreq / max(docCount, 1)` as a float, over two aggregates.
fn avgdl_of(sttf: Expr, dc: Expr) -> Expr {
    f32e(sttf / Expr::func("greatest", vec![dc, sql::lit(1u64)]))
}

/// Whether a document's indexed values contain `term`.
pub fn contains(f: &Field, term: &str) -> Expr {
    if f.kind == EsKind::Text || f.is_array {
        Expr::func("has", vec![indexed(f), sql::lit(term)])
    } else {
        let eq = f.column_expr().eq(sql::lit(term));
        let eq = match f.ignore_above {
            Some(n) => Expr::func("lengthUTF8", vec![f.column_expr()])
                .lte(sql::lit(n))
                .and(eq),
            None => eq,
        };
        Expr::func("ifNull", vec![eq, sql::lit(false)])
    }
}

impl Stats {
    /// The expression to select as [`STATS_ALIAS`] (after the second pass), if any.
    pub fn item(&self) -> Option<Expr> {
        match self {
            Stats::Resolved { subquery, .. } => Some(subquery.clone()),
            _ => None,
        }
    }

    /// The expression to select as [`NORMS_ALIAS`] (after the second pass), if any.
    pub fn norms_item(&self) -> Option<Expr> {
        match self {
            Stats::Resolved { norms, .. } => norms.clone(),
            _ => None,
        }
    }

    /// The quantised field length of text field `f` in the current document.
    fn norm(&self, f: &Field) -> Expr {
        let compute = || {
            let toks = indexed(f);
            norm_length(
                Expr::func("length", vec![toks.clone()])
                    - Expr::func("countEqual", vec![toks, sql::lit("")]),
            )
        };
        match self {
            Stats::None => compute(),
            Stats::Collect(c) => {
                let mut norms = c.norms.borrow_mut();
                if !norms.iter().any(|(col, _)| *col == f.column) {
                    norms.push((f.column.clone(), compute()));
                }
                sql::lit(1u64)
            }
            Stats::Resolved { norm_columns, .. } => {
                match norm_columns.iter().position(|c| *c == f.column) {
                    Some(i) => Expr::func(
                        "arrayElement",
                        vec![sql::col(NORMS_ALIAS), sql::lit((i + 1) as u64)],
                    ),
                    None => compute(),
                }
            }
        }
    }

    /// A statistic as an expression (a placeholder during the first pass).
    pub fn get(&self, key: StatKey, f: &Field) -> Expr {
        self.get_with(key, aggregate_for(f))
    }

    /// A statistic whose aggregate the caller provides (document frequencies of fuzzy or prefix
    /// expansions).
    pub fn get_with(&self, key: StatKey, agg: impl FnOnce(&StatKey) -> Expr) -> Expr {
        match self {
            Stats::None => sql::lit(1.0),
            Stats::Collect(c) => {
                let mut list = c.stats.borrow_mut();
                if !list.iter().any(|(k, _)| *k == key) {
                    let agg = agg(&key);
                    list.push((key, agg));
                }
                sql::lit(1.0)
            }
            Stats::Resolved { keys, .. } => match keys.iter().position(|k| *k == key) {
                Some(i) => Expr::func(
                    "arrayElement",
                    vec![sql::col(STATS_ALIAS), sql::lit((i + 1) as u64)],
                ),
                None => sql::lit(1.0),
            },
        }
    }

    /// After the first pass: the statistics subquery over `table`, or `None` if nothing was asked.
    pub fn resolve(self, from: sql::FromClause, rows: sql::Rows) -> Stats {
        let Stats::Collect(c) = self else {
            return Stats::None;
        };
        let list = c.stats.into_inner();
        let norms = c.norms.into_inner();
        if list.is_empty() {
            return Stats::None;
        }
        let (keys, aggs): (Vec<StatKey>, Vec<Expr>) = list.into_iter().unzip();
        // Counts as Float64 are exact (below 2^53) and the BM25 arithmetic is in floats anyway.
        let aggs = aggs
            .into_iter()
            .map(|a| Expr::func("toFloat64", vec![a]))
            .collect();
        let q = sql::Select {
            items: vec![Expr::Array(aggs).into()],
            from: Some(from),
            rows,
            ..Default::default()
        };
        let (norm_columns, norm_exprs): (Vec<String>, Vec<Expr>) = norms.into_iter().unzip();
        Stats::Resolved {
            keys,
            subquery: sql::subquery(q),
            norm_columns,
            norms: (!norm_exprs.is_empty()).then(|| {
                Expr::Array(
                    norm_exprs
                        .into_iter()
                        .map(|e| Expr::func("toFloat64", vec![e]))
                        .collect(),
                )
            }),
        }
    }
}

/// Float32 rounding, as Lucene computes scores in `float`.
fn f32e(e: Expr) -> Expr {
    Expr::func("toFloat32", vec![e])
}

/// What a query term matches among a field's indexed values.
#[derive(Clone)]
pub enum TermMatch {
    /// The term itself.
    Exact(String),
    /// Every indexed term satisfying a predicate (prefix, fuzzy expansions); `key` names it for
    /// the statistics.
    Pred {
        key: String,
        pred: std::rc::Rc<dyn Fn(Expr) -> Expr>,
    },
}

impl TermMatch {
    fn key(&self) -> String {
        match self {
            TermMatch::Exact(t) => t.clone(),
            TermMatch::Pred { key, .. } => key.clone(),
        }
    }
}

/// Whether the document has the term in field `f`.
pub fn doc_has(f: &Field, tm: &TermMatch) -> Expr {
    match tm {
        TermMatch::Exact(t) => contains(f, t),
        TermMatch::Pred { pred, .. } => {
            if f.kind == EsKind::Text || f.is_array {
                Expr::func(
                    "arrayExists",
                    vec![sql::lambda(["t"], pred(sql::col("t"))), indexed(f)],
                )
            } else {
                Expr::func("ifNull", vec![pred(f.column_expr()), sql::lit(false)])
            }
        }
    }
}

/// How often the term occurs in the document's field (keyword fields: 0 or 1).
fn freq(f: &Field, tm: &TermMatch) -> Expr {
    if f.kind != EsKind::Text {
        return Expr::func("toUInt32", vec![doc_has(f, tm)]);
    }
    match tm {
        TermMatch::Exact(t) => Expr::func("countEqual", vec![indexed(f), sql::lit(t.as_str())]),
        TermMatch::Pred { pred, .. } => Expr::func(
            "arrayCount",
            vec![sql::lambda(["t"], pred(sql::col("t"))), indexed(f)],
        ),
    }
}

/// Lucene's idf of a term: `ln(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5))`, as a float.
pub fn idf(stats: &Stats, f: &Field, tm: &TermMatch) -> Expr {
    if f.is_runtime() {
        // Runtime fields have no index statistics: their queries score a constant.
        return sql::lit(1.0);
    }
    let key = StatKey::Idf(f.column.clone(), tm.key());
    stats.get_with(key, |_| {
        idf_of(
            aggregate(&StatKey::DocCount(f.column.clone()), f),
            Expr::func("countIf", vec![doc_has(f, tm)]),
        )
    })
}

/// BM25 score of one term in field `f` for the current document, times `boost`; 0 when absent.
pub fn bm25(stats: &Stats, f: &Field, term: &str, boost: f64) -> Expr {
    bm25_term(stats, f, &TermMatch::Exact(term.to_string()), boost)
}

/// BM25 of a term match (see [`bm25_with`]).
pub fn bm25_term(stats: &Stats, f: &Field, tm: &TermMatch, boost: f64) -> Expr {
    bm25_with(stats, f, idf(stats, f, tm), freq(f, tm), boost)
}

/// Lucene 9's BM25Scorer: `weight - weight / (1 + freq * normInverse)` with `weight = boost * idf`
/// and `normInverse = 1 / (k1 * (1 - b + b * dl / avgdl))`, where `dl` is the field length as
/// stored in the norm (lossily encoded, [`crate::analysis::lucene_norm_length`]); keyword fields
/// (no norms) use `dl = 1`. Phrases pass the sum of their terms' idf and the phrase frequency.
pub fn bm25_with(stats: &Stats, f: &Field, idf: Expr, freq: Expr, boost: f64) -> Expr {
    if f.is_runtime() {
        // Script-based queries on runtime fields score their boost (StringScriptFieldTermQuery
        // and friends are constant-score).
        return Expr::func(
            "if",
            vec![freq.gt(sql::lit(0u64)), sql::lit(boost), sql::lit(0.0)],
        );
    }
    let avgdl = stats.get_with(StatKey::AvgDl(f.column.clone()), |_| {
        avgdl_of(
            aggregate(&StatKey::SumTotalTermFreq(f.column.clone()), f),
            aggregate(&StatKey::DocCount(f.column.clone()), f),
        )
    });
    let dl = if f.kind == EsKind::Text {
        stats.norm(f)
    } else {
        sql::lit(1u64)
    };
    let norm_inverse =
        f32e(sql::lit(1.0) / (sql::lit(K1) * (sql::lit(1.0 - B) + sql::lit(B) * dl / avgdl)));
    let weight = f32e(sql::lit(boost) * idf);
    let score = f32e(
        weight.clone()
            - weight
                / f32e(
                    sql::lit(1.0)
                        + f32e(Expr::func("toFloat32", vec![freq.clone()]) * norm_inverse),
                ),
    );
    Expr::func("if", vec![freq.gt(sql::lit(0u64)), score, sql::lit(0.0)])
}

/// The field length as Lucene's norm stores it (SmallFloat#intToByte4 / #byte4ToInt), in SQL.
fn norm_length(len: Expr) -> Expr {
    // len < 24: exact; else 24 + ((v >> s) << s) with v = len - 24 and s = max(0, bits(v) - 4).
    // bits(v) from log2(max(v, 1)): ClickHouse computes both branches of the `if` below, and for
    // len = 24 (v = 0) log2 would give -inf, which no integer conversion accepts (the shift is 0
    // for v < 16 either way).
    let v = Expr::func("toUInt64", vec![len.clone() - sql::lit(24u64)]);
    let bits = Expr::func(
        "toUInt64",
        vec![Expr::func(
            "floor",
            vec![Expr::func(
                "log2",
                vec![Expr::func("greatest", vec![v.clone(), sql::lit(1u64)])],
            )],
        )],
    ) + sql::lit(1u64);
    let shift = Expr::func(
        "greatest",
        vec![
            Expr::func("toInt64", vec![bits]) - sql::lit(4i64),
            sql::lit(0i64),
        ],
    );
    let shift = Expr::func("toUInt8", vec![shift]);
    let quantised = sql::lit(24u64)
        + Expr::func(
            "bitShiftLeft",
            vec![Expr::func("bitShiftRight", vec![v, shift.clone()]), shift],
        );
    Expr::func(
        "if",
        vec![
            len.clone().lt(sql::lit(24u64)),
            Expr::func("toUInt64", vec![len]),
            quantised,
        ],
    )
}
