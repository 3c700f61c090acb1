//! Full-text queries → SQL: the WHERE predicate and the `_score` expression of match,
//! match_phrase(_prefix), match_bool_prefix and multi_match.
//!
//! On `text` fields the query text is analysed with the standard analyzer and each token becomes a
//! term clause over the document's token column, scored with BM25 ([`super::stats`]). On keyword-like
//! fields the whole query text is one exact term; on numbers, dates, booleans and ips a `match` is a
//! term query on the parsed value (an unparsable value is an error unless `lenient`), as
//! Elasticsearch's MatchQueryParser does per field type.

use super::Ctx;
use super::fields::{self, EsKind, Field};
use super::stats::{self, TermMatch};
use crate::analysis::standard_tokens;
use crate::dsl::full_text::{Match, MatchPhrase, MultiMatch, MultiMatchType, Operator, ZeroTerms};
use crate::error::EsError;
use crate::sql::expr::BalancedSum;
use crate::sql::{self, Expr};
use serde_json::Value;
use std::rc::Rc;

/// A planned query: the documents it matches and their score.
#[derive(Clone)]
pub struct Planned {
    pub filter: Expr,
    pub score: Expr,
}

fn none() -> Planned {
    Planned {
        filter: sql::lit(false),
        score: sql::lit(0.0),
    }
}

fn all(boost: f64) -> Planned {
    Planned {
        filter: sql::lit(true),
        score: sql::lit(boost),
    }
}

fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a field is analysed text (as opposed to an exact-value field).
fn is_text(f: &Field) -> bool {
    f.kind == EsKind::Text
}

fn is_keyword_like(f: &Field) -> bool {
    matches!(
        f.kind,
        EsKind::Keyword | EsKind::Wildcard | EsKind::ConstantKeyword | EsKind::Other
    )
}

/// One term clause on a field.
fn term_clause(ctx: &Ctx, f: &Field, tm: &TermMatch, boost: f64) -> Planned {
    Planned {
        filter: stats::doc_has(f, tm),
        score: stats::bm25_term(&ctx.stats, f, tm, boost),
    }
}

/// The term matcher of one analysed token, with the match query's fuzziness.
fn token_match(m: &Match, token: &str, is_last: bool) -> TermMatch {
    if is_last && m.last_is_prefix {
        let p = token.to_string();
        return TermMatch::Pred {
            key: format!("prefix\u{1}{p}"),
            pred: Rc::new(move |t| Expr::func("startsWith", vec![t, sql::lit(p.as_str())])),
        };
    }
    let Some(fz) = &m.fuzziness else {
        return TermMatch::Exact(token.to_string());
    };
    let edits = fz.edits_for(token) as usize;
    if edits == 0 {
        return TermMatch::Exact(token.to_string());
    }
    let term = token.to_string();
    let prefix_length = m.prefix_length;
    let transpositions = m.fuzzy_transpositions;
    TermMatch::Pred {
        key: format!("fuzzy\u{1}{term}\u{1}{edits}\u{1}{prefix_length}\u{1}{transpositions}"),
        pred: Rc::new(move |t: Expr| {
            super::term_level::fuzzy_pred(t, &term, prefix_length, edits as u8, transpositions)
        }),
    }
}

/// Combines term clauses with an operator / minimum_should_match (BooleanQuery of SHOULD or MUST
/// clauses, scores summed).
fn combine(clauses: Vec<Planned>, m: &Match) -> Planned {
    let n = clauses.len();
    let required = match (m.operator, &m.minimum_should_match) {
        (Operator::And, _) => n,
        (Operator::Or, Some(msm)) => msm.required(n).max(1),
        (Operator::Or, None) => 1,
    };
    let score = clauses
        .iter()
        .map(|c| c.score.clone())
        .balanced_sum()
        .unwrap_or(sql::lit(0.0));
    let filters: Vec<Expr> = clauses.into_iter().map(|c| c.filter).collect();
    let filter = super::at_least(filters, required);
    Planned { filter, score }
}

/// `match` on one resolved field.
fn match_field(ctx: &Ctx, f: &Field, m: &Match, boost: f64) -> Result<Planned, EsError> {
    let text = query_text(&m.query);
    if is_text(f) {
        let tokens = standard_tokens(&text);
        if tokens.is_empty() {
            return Ok(match m.zero_terms_query {
                ZeroTerms::None => none(),
                ZeroTerms::All => all(boost),
            });
        }
        let last = tokens.len() - 1;
        let clauses = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| term_clause(ctx, f, &token_match(m, t, i == last), boost))
            .collect();
        return Ok(combine(clauses, m));
    }
    if is_keyword_like(f) {
        // Keyword fields are not analysed: the whole text is one term.
        let tm = token_match(m, &text, true);
        return Ok(term_clause(ctx, f, &tm, boost));
    }
    // Numbers, dates, booleans, ips: a term query on the parsed value, constant score.
    match super::term_pred(ctx, f, &m.query, false) {
        Ok(filter) => Ok(Planned {
            filter,
            score: sql::lit(boost),
        }),
        Err(_) if m.lenient => Ok(none()),
        Err(e) => Err(e),
    }
}

fn plan_match(ctx: &Ctx, m: &Match) -> Result<Planned, EsError> {
    match fields::resolve(ctx.meta, &m.field) {
        Some(f) => match_field(ctx, &f, m, m.boost),
        None => Ok(none()),
    }
}

pub fn filter_match(ctx: &Ctx, q: &Match) -> Result<Expr, EsError> {
    Ok(plan_match(ctx, q)?.filter)
}

pub fn score_match(ctx: &Ctx, q: &Match) -> Result<Expr, EsError> {
    Ok(plan_match(ctx, q)?.score)
}

/// The longest phrase with slop handled exactly by nested position loops.
const MAX_SLOPPY_TERMS: usize = 3;

/// `match_phrase` on one resolved field.
fn phrase_field(ctx: &Ctx, f: &Field, p: &MatchPhrase, boost: f64) -> Result<Planned, EsError> {
    let text = query_text(&p.query);
    if !is_text(f) {
        let m = Match {
            field: p.field.clone(),
            query: p.query.clone(),
            last_is_prefix: p.prefix,
            ..Default::default()
        };
        return match_field(ctx, f, &m, boost);
    }
    let tokens = standard_tokens(&text);
    if tokens.is_empty() {
        return Ok(match p.zero_terms_query {
            ZeroTerms::None => none(),
            ZeroTerms::All => all(boost),
        });
    }
    if tokens.len() == 1 {
        let m = Match {
            query: Value::String(tokens[0].clone()),
            last_is_prefix: p.prefix,
            ..Default::default()
        };
        return Ok(term_clause(
            ctx,
            f,
            &token_match(&m, &tokens[0], true),
            boost,
        ));
    }
    let toks = super::tokens_expr(f);
    let n = tokens.len();
    let at = |pos: Expr| Expr::func("arrayElement", vec![toks.clone(), pos]);
    // Term k of the phrase at position `pos` (the last one as a prefix for match_phrase_prefix).
    let term_at = |k: usize, pos: Expr| {
        if p.prefix && k == n - 1 {
            Expr::func("startsWith", vec![at(pos), sql::lit(tokens[k].as_str())])
        } else {
            at(pos).eq(sql::lit(tokens[k].as_str()))
        }
    };
    let positions = Expr::func("arrayEnumerate", vec![toks.clone()]);
    let (filter, freq) = if p.slop == 0 {
        // Consecutive positions i, i+1, … (the empty placeholders between values never match).
        let at_i = Expr::And(
            (0..n)
                .map(|k| term_at(k, sql::col("i") + sql::lit(k as u64)))
                .collect(),
        );
        let exists = Expr::func(
            "arrayExists",
            vec![sql::lambda(["i"], at_i.clone()), positions.clone()],
        );
        let count = Expr::func("arrayCount", vec![sql::lambda(["i"], at_i), positions]);
        (exists, count)
    } else {
        if n > MAX_SLOPPY_TERMS {
            return Err(EsError::unsupported(format!(
                "match_phrase with slop over more than {MAX_SLOPPY_TERMS} terms"
            )));
        }
        // Lucene's sloppy phrase: positions p_k of the terms, normalised q_k = p_k - k; a match when
        // max(q) - min(q) <= slop (terms may also appear out of order), distinct positions.
        let vars: Vec<String> = (0..n).map(|k| format!("p{k}")).collect();
        let q =
            |k: usize| Expr::func("toInt64", vec![sql::col(vars[k].as_str())]) - sql::lit(k as i64);
        let qs: Vec<Expr> = (0..n).map(q).collect();
        let spread = Expr::func("greatest", qs.clone()) - Expr::func("least", qs);
        let mut cond = vec![spread.lte(sql::lit(p.slop as i64))];
        for k in 0..n {
            cond.push(term_at(k, sql::col(vars[k].as_str())));
            for j in 0..k {
                cond.push(sql::col(vars[j].as_str()).ne(sql::col(vars[k].as_str())));
            }
        }
        let mut inner = Expr::And(cond);
        for k in (1..n).rev() {
            inner = Expr::func(
                "arrayExists",
                vec![sql::lambda([vars[k].as_str()], inner), positions.clone()],
            );
        }
        let exists = Expr::func(
            "arrayExists",
            vec![
                sql::lambda([vars[0].as_str()], inner.clone()),
                positions.clone(),
            ],
        );
        // Frequency: the number of first-term positions that start a match (Lucene weights sloppy
        // matches by 1/(1+distance); documented difference).
        let count = Expr::func(
            "arrayCount",
            vec![sql::lambda([vars[0].as_str()], inner), positions],
        );
        (exists, count)
    };
    // Every exact term of the phrase must be in the document: `has` on the token column is
    // answered by ClickHouse's text index (granules without a term are skipped), so the position
    // check above runs on the few rows that have them all.
    let mut required: Vec<&str> = tokens[..if p.prefix { n - 1 } else { n }]
        .iter()
        .map(String::as_str)
        .collect();
    required.sort_unstable();
    required.dedup();
    let filter = Expr::And(
        required
            .into_iter()
            .map(|t| Expr::func("has", vec![toks.clone(), sql::lit(t)]))
            .chain(std::iter::once(filter))
            .collect(),
    );
    // A phrase's idf is the sum of its terms' idf (PhraseWeight).
    let idf = tokens
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let m = Match {
                last_is_prefix: p.prefix,
                ..Default::default()
            };
            stats::idf(&ctx.stats, f, &token_match(&m, t, k == n - 1))
        })
        .balanced_sum()
        .expect("terms");
    let score = stats::bm25_with(&ctx.stats, f, idf, freq, boost);
    Ok(Planned { filter, score })
}

fn plan_phrase(ctx: &Ctx, p: &MatchPhrase) -> Result<Planned, EsError> {
    match fields::resolve(ctx.meta, &p.field) {
        Some(f) => phrase_field(ctx, &f, p, p.boost),
        None => Ok(none()),
    }
}

pub fn filter_match_phrase(ctx: &Ctx, q: &MatchPhrase) -> Result<Expr, EsError> {
    Ok(plan_phrase(ctx, q)?.filter)
}

pub fn score_match_phrase(ctx: &Ctx, q: &MatchPhrase) -> Result<Expr, EsError> {
    Ok(plan_phrase(ctx, q)?.score)
}

/// The fields a multi_match targets: patterns expanded against the mapping, with boosts. An empty
/// list means `index.query.default_field` (`*`): every text and keyword field.
fn expand_fields(ctx: &Ctx, patterns: &[(String, f64)]) -> Vec<(Field, f64)> {
    let patterns: Vec<(String, f64)> = if patterns.is_empty() {
        vec![("*".to_string(), 1.0)]
    } else {
        patterns.to_vec()
    };
    let mut out: Vec<(Field, f64)> = Vec::new();
    for (pat, boost) in patterns {
        if pat.contains('*') {
            for info in ctx.meta.mappings.leaf_fields() {
                if crate::catalog::glob_match(&pat, &info.path)
                    && let Some(f) = fields::resolve(ctx.meta, &info.path)
                    && (is_text(&f) || is_keyword_like(&f))
                    && !out.iter().any(|(o, _)| o.path == f.path)
                {
                    out.push((f, boost));
                }
            }
        } else if let Some(f) = fields::resolve(ctx.meta, &pat) {
            if let Some(existing) = out.iter_mut().find(|(o, _)| o.path == f.path) {
                existing.1 = boost;
            } else {
                out.push((f, boost));
            }
        }
    }
    out
}

/// dis_max: the best clause's score plus tie_breaker times the others'.
fn dis_max(parts: Vec<Planned>, tie: f64) -> Planned {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one");
    }
    let scores: Vec<Expr> = parts.iter().map(|p| p.score.clone()).collect();
    let max = Expr::func("greatest", scores.clone());
    let sum = scores.into_iter().balanced_sum().expect("parts");
    let score = if tie == 0.0 {
        max
    } else {
        max.clone() + sql::lit(tie) * (sum - max)
    };
    Planned {
        filter: Expr::Or(parts.into_iter().map(|p| p.filter).collect()),
        score,
    }
}

fn sum_of(parts: Vec<Planned>) -> Planned {
    let score = parts
        .iter()
        .map(|p| p.score.clone())
        .balanced_sum()
        .unwrap_or(sql::lit(0.0));
    Planned {
        filter: Expr::Or(parts.into_iter().map(|p| p.filter).collect()),
        score,
    }
}

fn plan_multi_match(ctx: &Ctx, mm: &MultiMatch) -> Result<Planned, EsError> {
    let targets = expand_fields(ctx, &mm.fields);
    if targets.is_empty() {
        return Ok(none());
    }
    // Fields expanded from wildcards are queried leniently, as Elasticsearch does.
    let lenient = mm.options.lenient
        || mm.fields.is_empty()
        || mm.fields.iter().any(|(f, _)| f.contains('*'));
    let base = Match {
        query: mm.query.clone(),
        lenient,
        ..mm.options.clone()
    };
    let planned = match mm.kind {
        MultiMatchType::BestFields | MultiMatchType::MostFields | MultiMatchType::BoolPrefix => {
            let mut parts = Vec::new();
            for (f, b) in &targets {
                let m = Match {
                    last_is_prefix: mm.kind == MultiMatchType::BoolPrefix,
                    ..base.clone()
                };
                parts.push(match_field(ctx, f, &m, b * mm.boost)?);
            }
            if mm.kind == MultiMatchType::BestFields {
                dis_max(parts, mm.tie_breaker.unwrap_or(0.0))
            } else {
                sum_of(parts)
            }
        }
        MultiMatchType::Phrase | MultiMatchType::PhrasePrefix => {
            let mut parts = Vec::new();
            for (f, b) in &targets {
                let p = MatchPhrase {
                    field: f.path.clone(),
                    query: mm.query.clone(),
                    slop: mm.slop,
                    prefix: mm.kind == MultiMatchType::PhrasePrefix,
                    max_expansions: mm.options.max_expansions,
                    zero_terms_query: mm.options.zero_terms_query,
                    boost: 1.0,
                };
                parts.push(phrase_field(ctx, f, &p, b * mm.boost)?);
            }
            dis_max(parts, mm.tie_breaker.unwrap_or(0.0))
        }
        MultiMatchType::CrossFields => {
            // Term-centric: each token must be found in one of the fields (best field wins), then the
            // operator / minimum_should_match applies across tokens. Elasticsearch also blends the
            // term statistics across fields; that blending is not reproduced (docs/search.md).
            let tokens = standard_tokens(&query_text(&mm.query));
            if tokens.is_empty() {
                return Ok(match mm.options.zero_terms_query {
                    ZeroTerms::None => none(),
                    ZeroTerms::All => all(mm.boost),
                });
            }
            let mut per_token = Vec::new();
            for t in &tokens {
                let mut parts = Vec::new();
                for (f, b) in &targets {
                    let tm = TermMatch::Exact(if is_text(f) {
                        t.clone()
                    } else {
                        query_text(&mm.query)
                    });
                    parts.push(term_clause(ctx, f, &tm, b * mm.boost));
                }
                per_token.push(dis_max(parts, mm.tie_breaker.unwrap_or(0.0)));
            }
            combine(per_token, &base)
        }
    };
    Ok(planned)
}

pub fn filter_multi_match(ctx: &Ctx, q: &MultiMatch) -> Result<Expr, EsError> {
    Ok(plan_multi_match(ctx, q)?.filter)
}

pub fn score_multi_match(ctx: &Ctx, q: &MultiMatch) -> Result<Expr, EsError> {
    Ok(plan_multi_match(ctx, q)?.score)
}
