//! Compound queries: constant_score, boosting, dis_max, nested.
//! (ConstantScoreQueryBuilder.java, BoostingQueryBuilder.java, DisMaxQueryBuilder.java, NestedQueryBuilder.java)
//!
//! STUB: not implemented yet; every query here is rejected with a 400 naming it.

use super::{Query, unsupported_query};
use crate::error::EsError;
use serde_json::Value;

/// The `constant_score` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConstantScore {
    pub boost: f64,
}

pub fn parse_constant_score(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("constant_score"))
}

/// The `boosting` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Boosting {
    pub boost: f64,
}

pub fn parse_boosting(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("boosting"))
}

/// The `dis_max` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisMax {
    pub boost: f64,
}

pub fn parse_dis_max(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("dis_max"))
}

/// The `nested` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Nested {
    pub boost: f64,
}

pub fn parse_nested(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("nested"))
}
