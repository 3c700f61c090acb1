//! Geo queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! STUB: the parser rejects these queries for now, so these are never reached.

use super::Ctx;
use crate::dsl::geo::{GeoBoundingBox, GeoDistance};
use crate::dsl::unsupported_query;
use crate::error::EsError;
use crate::sql::Expr;

pub fn filter_geo_bounding_box(ctx: &Ctx, q: &GeoBoundingBox) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("geo_bounding_box"))
}

pub fn score_geo_bounding_box(ctx: &Ctx, q: &GeoBoundingBox) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("geo_bounding_box"))
}

pub fn filter_geo_distance(ctx: &Ctx, q: &GeoDistance) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("geo_distance"))
}

pub fn score_geo_distance(ctx: &Ctx, q: &GeoDistance) -> Result<Expr, EsError> {
    let _ = (ctx, q);
    Err(unsupported_query("geo_distance"))
}
