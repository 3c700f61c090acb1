//! Full-text queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! STUB: the parser rejects these queries for now, so these are never reached.

use super::Ctx;
use crate::dsl::full_text::{Match, MatchPhrase, MultiMatch};
use crate::dsl::unsupported_query;
use crate::error::EsError;
use crate::sql::Expr;

pub fn filter_match(ctx: &Ctx, q: &Match) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("match"))
}

pub fn score_match(ctx: &Ctx, q: &Match) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("match"))
}

pub fn filter_match_phrase(ctx: &Ctx, q: &MatchPhrase) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("match_phrase"))
}

pub fn score_match_phrase(ctx: &Ctx, q: &MatchPhrase) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("match_phrase"))
}

pub fn filter_multi_match(ctx: &Ctx, q: &MultiMatch) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("multi_match"))
}

pub fn score_multi_match(ctx: &Ctx, q: &MultiMatch) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("multi_match"))
}
