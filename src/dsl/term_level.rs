//! Term-level queries on exact values: prefix, wildcard, regexp, fuzzy.
//! (PrefixQueryBuilder.java, WildcardQueryBuilder.java, RegexpQueryBuilder.java, FuzzyQueryBuilder.java)
//!
//! STUB: not implemented yet; every query here is rejected with a 400 naming it.

use super::{Query, unsupported_query};
use crate::error::EsError;
use serde_json::Value;

/// The `prefix` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prefix {
    pub boost: f64,
}

pub fn parse_prefix(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("prefix"))
}

/// The `wildcard` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wildcard {
    pub boost: f64,
}

pub fn parse_wildcard(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("wildcard"))
}

/// The `regexp` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Regexp {
    pub boost: f64,
}

pub fn parse_regexp(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("regexp"))
}

/// The `fuzzy` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fuzzy {
    pub boost: f64,
}

pub fn parse_fuzzy(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("fuzzy"))
}
