//! Full-text queries: match, match_phrase, match_phrase_prefix, match_bool_prefix, multi_match.
//! (MatchQueryBuilder.java, MatchPhraseQueryBuilder.java, MatchPhrasePrefixQueryBuilder.java,
//! MatchBoolPrefixQueryBuilder.java, MultiMatchQueryBuilder.java; docs: query-dsl-match-query.html …)

pub use super::term_level::Fuzziness;
use super::{MinimumShouldMatch, Query, boost_of, single_field};
use crate::error::EsError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Operator {
    #[default]
    Or,
    And,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ZeroTerms {
    #[default]
    None,
    All,
}

/// The `match` query (and `match_bool_prefix`, which is a match whose last term is a prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub field: String,
    pub query: Value,
    pub operator: Operator,
    pub minimum_should_match: Option<MinimumShouldMatch>,
    pub fuzziness: Option<Fuzziness>,
    pub prefix_length: usize,
    pub max_expansions: usize,
    pub fuzzy_transpositions: bool,
    pub lenient: bool,
    pub zero_terms_query: ZeroTerms,
    /// `match_bool_prefix`: the last term matches as a prefix.
    pub last_is_prefix: bool,
    pub boost: f64,
}

impl Default for Match {
    fn default() -> Self {
        Match {
            field: String::new(),
            query: Value::Null,
            operator: Operator::Or,
            minimum_should_match: None,
            fuzziness: None,
            prefix_length: 0,
            max_expansions: 50,
            fuzzy_transpositions: true,
            lenient: false,
            zero_terms_query: ZeroTerms::None,
            last_is_prefix: false,
            boost: 1.0,
        }
    }
}

/// `match_phrase` and `match_phrase_prefix`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchPhrase {
    pub field: String,
    pub query: Value,
    pub slop: usize,
    /// `match_phrase_prefix`: the last term matches as a prefix.
    pub prefix: bool,
    pub max_expansions: usize,
    pub zero_terms_query: ZeroTerms,
    pub boost: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MultiMatchType {
    #[default]
    BestFields,
    MostFields,
    CrossFields,
    Phrase,
    PhrasePrefix,
    BoolPrefix,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultiMatch {
    pub query: Value,
    /// Field patterns with their boosts (`title^3`, `*_name`); empty = `index.query.default_field`.
    pub fields: Vec<(String, f64)>,
    pub kind: MultiMatchType,
    pub tie_breaker: Option<f64>,
    /// Options shared with match / match_phrase.
    pub options: Match,
    pub slop: usize,
    pub boost: f64,
}

fn check_analyzer(query: &str, v: &Value) -> Result<(), EsError> {
    match v.as_str() {
        Some("standard") | Some("default") => Ok(()),
        Some(a) => Err(EsError::unsupported(format!(
            "[{query}] analyzer [{a}] (only the standard analyzer)"
        ))),
        None => Err(EsError::parsing(format!(
            "[{query}] analyzer must be a string"
        ))),
    }
}

fn as_usize(v: &Value, name: &str, query: &str) -> Result<usize, EsError> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .map(|n| n as usize)
        .ok_or_else(|| EsError::parsing(format!("[{query}] {name} must be a non-negative integer")))
}

fn zero_terms(v: &Value) -> Result<ZeroTerms, EsError> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("none") => Ok(ZeroTerms::None),
        Some("all") => Ok(ZeroTerms::All),
        _ => Err(EsError::parsing(format!(
            "Unsupported zero_terms_query value [{}]",
            v.as_str().unwrap_or("?")
        ))),
    }
}

fn operator(v: &Value) -> Result<Operator, EsError> {
    match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("or") => Ok(Operator::Or),
        Some("and") => Ok(Operator::And),
        _ => Err(EsError::illegal_argument(format!(
            "No enum constant for operator [{}]",
            v.as_str().unwrap_or("?")
        ))),
    }
}

/// Applies one option shared by the match family; `false` if the key is not one of them.
fn match_option(m: &mut Match, query: &str, k: &str, v: &Value) -> Result<bool, EsError> {
    match k {
        "query" => m.query = v.clone(),
        "operator" => m.operator = operator(v)?,
        "minimum_should_match" => m.minimum_should_match = Some(MinimumShouldMatch::parse(v)?),
        "fuzziness" => m.fuzziness = Some(Fuzziness::parse(v)?),
        "prefix_length" => m.prefix_length = as_usize(v, k, query)?,
        "max_expansions" => m.max_expansions = as_usize(v, k, query)?,
        "fuzzy_transpositions" => m.fuzzy_transpositions = v.as_bool().unwrap_or(true),
        "lenient" => m.lenient = v.as_bool().unwrap_or(false),
        "zero_terms_query" => m.zero_terms_query = zero_terms(v)?,
        "boost" => m.boost = boost_of(v, query)?,
        "analyzer" => check_analyzer(query, v)?,
        "auto_generate_synonyms_phrase_query" | "fuzzy_rewrite" | "_name" => {}
        "cutoff_frequency" => {
            return Err(EsError::parsing(format!(
                "[{query}] query does not support [cutoff_frequency]"
            )));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn field_and_spec<'a>(query: &str, body: &'a Value) -> Result<(&'a String, &'a Value), EsError> {
    let o = body.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[{query}] query malformed, no start_object after query name"
        ))
    })?;
    single_field(query, o)
}

pub fn parse_match(body: &Value) -> Result<Query, EsError> {
    parse_match_like(body, "match", false)
}

pub fn parse_match_bool_prefix(body: &Value) -> Result<Query, EsError> {
    parse_match_like(body, "match_bool_prefix", true)
}

fn parse_match_like(body: &Value, name: &str, last_is_prefix: bool) -> Result<Query, EsError> {
    let (field, spec) = field_and_spec(name, body)?;
    let mut m = Match {
        field: field.clone(),
        last_is_prefix,
        ..Default::default()
    };
    match spec {
        Value::Object(o) => {
            for (k, v) in o {
                if !match_option(&mut m, name, k, v)? {
                    return Err(EsError::parsing(format!(
                        "[{name}] query does not support [{k}]"
                    )));
                }
            }
            if m.query.is_null() {
                return Err(EsError::illegal_argument(format!(
                    "[{name}] requires query value"
                )));
            }
        }
        Value::Array(_) => {
            return Err(EsError::parsing(format!(
                "[{name}] unknown token [START_ARRAY] after [{field}]"
            )));
        }
        Value::Null => {
            return Err(EsError::illegal_argument(format!(
                "[{name}] requires query value"
            )));
        }
        v => m.query = v.clone(),
    }
    Ok(Query::Match(Box::new(m)))
}

pub fn parse_match_phrase(body: &Value, prefix: bool) -> Result<Query, EsError> {
    let name = if prefix {
        "match_phrase_prefix"
    } else {
        "match_phrase"
    };
    let (field, spec) = field_and_spec(name, body)?;
    let mut p = MatchPhrase {
        field: field.clone(),
        prefix,
        max_expansions: 50,
        boost: 1.0,
        ..Default::default()
    };
    match spec {
        Value::Object(o) => {
            for (k, v) in o {
                match k.as_str() {
                    "query" => p.query = v.clone(),
                    "slop" => p.slop = as_usize(v, "slop", name)?,
                    "max_expansions" if prefix => p.max_expansions = as_usize(v, k, name)?,
                    "zero_terms_query" => p.zero_terms_query = zero_terms(v)?,
                    "boost" => p.boost = boost_of(v, name)?,
                    "analyzer" => check_analyzer(name, v)?,
                    "_name" => {}
                    other => {
                        return Err(EsError::parsing(format!(
                            "[{name}] query does not support [{other}]"
                        )));
                    }
                }
            }
            if p.query.is_null() {
                return Err(EsError::illegal_argument(format!(
                    "[{name}] requires query value"
                )));
            }
        }
        Value::Array(_) => {
            return Err(EsError::parsing(format!(
                "[{name}] unknown token [START_ARRAY] after [{field}]"
            )));
        }
        v => p.query = v.clone(),
    }
    Ok(Query::MatchPhrase(Box::new(p)))
}

/// `field^2.5` → (`field`, 2.5).
pub fn field_with_boost(s: &str) -> Result<(String, f64), EsError> {
    match s.rsplit_once('^') {
        Some((f, b)) => Ok((
            f.to_string(),
            b.parse()
                .map_err(|_| EsError::parsing(format!("failed to parse boost of field [{s}]")))?,
        )),
        None => Ok((s.to_string(), 1.0)),
    }
}

pub fn parse_multi_match(body: &Value) -> Result<Query, EsError> {
    let name = "multi_match";
    let o: &Map<String, Value> = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[multi_match] query malformed"))?;
    let mut mm = MultiMatch {
        boost: 1.0,
        options: Match::default(),
        ..Default::default()
    };
    for (k, v) in o {
        match k.as_str() {
            "fields" => {
                let list: Vec<&str> = match v {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => {
                        return Err(EsError::parsing(
                            "[multi_match] fields must be a string or an array",
                        ));
                    }
                };
                mm.fields = list
                    .into_iter()
                    .map(field_with_boost)
                    .collect::<Result<_, _>>()?;
            }
            "type" => {
                mm.kind = match v.as_str().unwrap_or("") {
                    "best_fields" | "bestFields" => MultiMatchType::BestFields,
                    "most_fields" | "mostFields" => MultiMatchType::MostFields,
                    "cross_fields" | "crossFields" => MultiMatchType::CrossFields,
                    "phrase" => MultiMatchType::Phrase,
                    "phrase_prefix" | "phrasePrefix" => MultiMatchType::PhrasePrefix,
                    "bool_prefix" | "boolPrefix" => MultiMatchType::BoolPrefix,
                    other => {
                        return Err(EsError::parsing(format!(
                            "[multi_match] query does not allow type [{other}]"
                        )));
                    }
                }
            }
            "tie_breaker" => {
                mm.tie_breaker = Some(v.as_f64().ok_or_else(|| {
                    EsError::parsing("[multi_match] tie_breaker must be a number")
                })?)
            }
            "slop" => mm.slop = as_usize(v, "slop", name)?,
            "boost" => mm.boost = boost_of(v, name)?,
            k => {
                let mut opts = std::mem::take(&mut mm.options);
                let known = match_option(&mut opts, name, k, v)?;
                mm.options = opts;
                if !known {
                    return Err(EsError::parsing(format!(
                        "[multi_match] query does not support [{k}]"
                    )));
                }
            }
        }
    }
    mm.query = std::mem::take(&mut mm.options.query);
    mm.options.boost = 1.0;
    if mm.query.is_null() {
        return Err(EsError::illegal_argument(
            "[multi_match] requires query value",
        ));
    }
    if mm.options.fuzziness.is_some()
        && matches!(
            mm.kind,
            MultiMatchType::CrossFields | MultiMatchType::Phrase | MultiMatchType::PhrasePrefix
        )
    {
        return Err(EsError::parsing(format!(
            "Fuzziness not allowed for type [{}]",
            match mm.kind {
                MultiMatchType::CrossFields => "cross_fields",
                MultiMatchType::Phrase => "phrase",
                _ => "phrase_prefix",
            }
        )));
    }
    Ok(Query::MultiMatch(Box::new(mm)))
}
