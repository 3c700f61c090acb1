//! Lucene query syntax: query_string and simple_query_string.
//! (QueryStringQueryBuilder.java, QueryStringQueryParser.java, SimpleQueryStringBuilder.java)
//!
//! STUB: not implemented yet; every query here is rejected with a 400 naming it.

use super::{Query, unsupported_query};
use crate::error::EsError;
use serde_json::Value;

/// The `query_string` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryString {
    pub boost: f64,
}

pub fn parse_query_string(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("query_string"))
}

/// The `simple_query_string` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimpleQueryString {
    pub boost: f64,
}

pub fn parse_simple_query_string(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("simple_query_string"))
}
