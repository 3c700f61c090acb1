//! Full-text queries: match, match_phrase, match_phrase_prefix, match_bool_prefix, multi_match.
//! (MatchQueryBuilder.java, MatchPhraseQueryBuilder.java, MultiMatchQueryBuilder.java)
//!
//! STUB: not implemented yet; every query here is rejected with a 400 naming it.

use super::{Query, unsupported_query};
use crate::error::EsError;
use serde_json::Value;

/// The `match` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Match {
    pub boost: f64,
}

pub fn parse_match(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("match"))
}

/// The `match_phrase` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchPhrase {
    pub boost: f64,
}

pub fn parse_match_phrase(body: &Value, prefix: bool) -> Result<Query, EsError> {
    let _ = body;
    if prefix {
        return Err(unsupported_query("match_phrase_prefix"));
    }
    Err(unsupported_query("match_phrase"))
}

/// The `multi_match` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultiMatch {
    pub boost: f64,
}

pub fn parse_multi_match(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("multi_match"))
}

pub fn parse_match_bool_prefix(body: &Value) -> Result<Query, EsError> {
    let _ = body;
    Err(unsupported_query("match_bool_prefix"))
}
