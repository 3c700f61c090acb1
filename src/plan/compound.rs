//! Compound queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! STUB: the parser rejects these queries for now, so these are never reached.

use super::Ctx;
use crate::dsl::compound::{Boosting, ConstantScore, DisMax, Nested};
use crate::dsl::unsupported_query;
use crate::error::EsError;
use crate::sql::Expr;

pub fn filter_constant_score(ctx: &Ctx, q: &ConstantScore) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("constant_score"))
}

pub fn score_constant_score(ctx: &Ctx, q: &ConstantScore) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("constant_score"))
}

pub fn filter_boosting(ctx: &Ctx, q: &Boosting) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("boosting"))
}

pub fn score_boosting(ctx: &Ctx, q: &Boosting) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("boosting"))
}

pub fn filter_dis_max(ctx: &Ctx, q: &DisMax) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("dis_max"))
}

pub fn score_dis_max(ctx: &Ctx, q: &DisMax) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("dis_max"))
}

pub fn filter_nested(ctx: &Ctx, q: &Nested) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("nested"))
}

pub fn score_nested(ctx: &Ctx, q: &Nested) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("nested"))
}
