//! Lucene syntax queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! STUB: the parser rejects these queries for now, so these are never reached.

use super::Ctx;
use crate::dsl::query_string::{QueryString, SimpleQueryString};
use crate::dsl::unsupported_query;
use crate::error::EsError;
use crate::sql::Expr;

pub fn filter_query_string(ctx: &Ctx, q: &QueryString) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("query_string"))
}

pub fn score_query_string(ctx: &Ctx, q: &QueryString) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("query_string"))
}

pub fn filter_simple_query_string(ctx: &Ctx, q: &SimpleQueryString) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("simple_query_string"))
}

pub fn score_simple_query_string(ctx: &Ctx, q: &SimpleQueryString) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("simple_query_string"))
}
