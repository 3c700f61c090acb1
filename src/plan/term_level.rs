//! Term-level queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! STUB: the parser rejects these queries for now, so these are never reached.

use super::Ctx;
use crate::dsl::term_level::{Fuzzy, Prefix, Regexp, Wildcard};
use crate::dsl::unsupported_query;
use crate::error::EsError;
use crate::sql::Expr;

pub fn filter_prefix(ctx: &Ctx, q: &Prefix) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("prefix"))
}

pub fn score_prefix(ctx: &Ctx, q: &Prefix) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("prefix"))
}

pub fn filter_wildcard(ctx: &Ctx, q: &Wildcard) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("wildcard"))
}

pub fn score_wildcard(ctx: &Ctx, q: &Wildcard) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("wildcard"))
}

pub fn filter_regexp(ctx: &Ctx, q: &Regexp) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("regexp"))
}

pub fn score_regexp(ctx: &Ctx, q: &Regexp) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("regexp"))
}

pub fn filter_fuzzy(ctx: &Ctx, q: &Fuzzy) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("fuzzy"))
}

pub fn score_fuzzy(ctx: &Ctx, q: &Fuzzy) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("fuzzy"))
}
