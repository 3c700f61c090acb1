//! `query_string` and `simple_query_string`: their JSON options (this file) and their text syntax
//! (`query_string/lucene.rs`, `query_string/simple.rs`).
//! (QueryStringQueryBuilder.java, SimpleQueryStringBuilder.java)
//!
//! Options are checked when the request is parsed, like Elasticsearch does (`parsing_exception`
//! for unknown ones). The query text itself is parsed at plan time, per index, because that is where
//! Elasticsearch reports its syntax errors (a shard failure) and where field patterns meet a mapping.

pub mod lucene;
pub mod simple;

use super::{MinimumShouldMatch, Query, boost_of};
use crate::error::EsError;
use lucene::Operator;
use serde_json::{Map, Value};

/// How a text part is combined over several fields (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiType {
    /// One `dis_max` over the fields (the default).
    #[default]
    BestFields,
    /// A `bool` `should` over the fields: scores add up.
    MostFields,
}

impl MultiType {
    /// The tie breaker a type implies when none is given (`MultiMatchQueryBuilder.Type#tieBreaker`).
    pub fn tie_breaker(self) -> f64 {
        match self {
            MultiType::BestFields => 0.0,
            MultiType::MostFields => 1.0,
        }
    }
}

/// The `query_string` query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryString {
    pub query: String,
    pub default_field: Option<String>,
    /// `fields` with their `^boost`.
    pub fields: Option<Vec<(String, f64)>>,
    pub default_operator: Operator,
    /// `analyzer: standard` forces the standard analyzer on every field (keyword fields too).
    pub force_standard_analyzer: bool,
    pub allow_leading_wildcard: bool,
    pub analyze_wildcard: bool,
    pub lenient: Option<bool>,
    pub time_zone: Option<String>,
    pub minimum_should_match: Option<MinimumShouldMatch>,
    pub boost: f64,
    /// `fuzziness` as given (`AUTO`, `AUTO:3,6`, `0`, `1`, `2`).
    pub fuzziness: String,
    pub fuzzy_prefix_length: usize,
    pub fuzzy_max_expansions: u64,
    pub fuzzy_transpositions: bool,
    pub phrase_slop: u64,
    pub quote_field_suffix: Option<String>,
    pub tie_breaker: Option<f64>,
    pub multi_type: MultiType,
    pub escape: bool,
}

impl Default for QueryString {
    fn default() -> Self {
        QueryString {
            query: String::new(),
            default_field: None,
            fields: None,
            default_operator: Operator::Or,
            force_standard_analyzer: false,
            allow_leading_wildcard: true,
            analyze_wildcard: false,
            lenient: None,
            time_zone: None,
            minimum_should_match: None,
            boost: 1.0,
            fuzziness: "AUTO".into(),
            fuzzy_prefix_length: 0,
            fuzzy_max_expansions: 50,
            fuzzy_transpositions: true,
            phrase_slop: 0,
            quote_field_suffix: None,
            tie_breaker: None,
            multi_type: MultiType::BestFields,
            escape: false,
        }
    }
}

/// The JSON token type names Elasticsearch prints in "unknown token" errors.
fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn bool_of(v: &Value) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(EsError::x_content_parse(format!(
            "Failed to parse value [{}] as only [true] or [false] are allowed.",
            text_of(other)
        ))),
    }
}

fn int_of(v: &Value, name: &str) -> Result<u64, EsError> {
    match v {
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => {
            Ok(n.as_f64().unwrap_or(0.0) as u64)
        }
        Value::String(s) if s.trim().parse::<u64>().is_ok() => {
            Ok(s.trim().parse::<u64>().unwrap_or(0))
        }
        other => Err(EsError::x_content_parse(format!(
            "[{name}] failed to parse field value [{}] as an integer",
            text_of(other)
        ))),
    }
}

/// `default_operator`: `or`/`and` in any case (`Operator#fromString`).
fn operator_of(v: &Value) -> Result<Operator, EsError> {
    let s = text_of(v);
    match s.to_ascii_lowercase().as_str() {
        "or" => Ok(Operator::Or),
        "and" => Ok(Operator::And),
        _ => Err(EsError::illegal_argument(format!(
            "operator needs to be either [OR, AND], but not [{s}]"
        ))),
    }
}

/// Only the standard analyzer (the default of every `text` field here) exists in elastichouse.
fn analyzer_of(query: &str, key: &str, v: &Value) -> Result<bool, EsError> {
    let name = text_of(v);
    if name == "standard" || name == "default" {
        return Ok(true);
    }
    Err(EsError::unsupported(format!(
        "[{query}] {key} [{name}] (only the standard analyzer is available)"
    )))
}

/// `fields: ["title^3", "msg*"]`.
fn fields_of(a: &[Value]) -> Result<Vec<(String, f64)>, EsError> {
    let mut out = Vec::new();
    for f in a {
        let s = text_of(f);
        match s.rsplit_once('^') {
            Some((name, b)) => {
                let boost: f64 = b.parse().map_err(|_| {
                    EsError::illegal_argument(format!(
                        "failed to parse boost [{b}] of field [{name}]"
                    ))
                })?;
                out.push((name.to_string(), boost));
            }
            None => out.push((s, 1.0)),
        }
    }
    Ok(out)
}

/// `fuzziness`: `AUTO`, `AUTO:low,high`, or an edit count (`Fuzziness#parse`).
fn fuzziness_of(v: &Value) -> Result<String, EsError> {
    let s = text_of(v);
    let up = s.to_ascii_uppercase();
    if up == "AUTO" {
        return Ok(up);
    }
    if let Some(rest) = up.strip_prefix("AUTO:") {
        let ok = rest
            .split_once(',')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
        if ok {
            return Ok(up);
        }
        return Err(EsError::new(
            400,
            "parse_exception",
            "failed to find low and high distance values",
        ));
    }
    match s.parse::<f64>() {
        Ok(f) if f >= 0.0 => Ok(s),
        _ => Err(EsError::new(
            400,
            "parse_exception",
            format!("Invalid fuzziness value: {s}"),
        )),
    }
}

fn rewrite_of(v: &Value) -> Result<(), EsError> {
    let s = text_of(v);
    let known = [
        "constant_score",
        "constant_score_blended",
        "constant_score_boolean",
        "scoring_boolean",
    ];
    let top = ["top_terms_boost_", "top_terms_blended_freqs_", "top_terms_"];
    if known.contains(&s.as_str())
        || top
            .iter()
            .any(|p| s.strip_prefix(p).is_some_and(|n| n.parse::<u32>().is_ok()))
    {
        return Ok(());
    }
    Err(EsError::illegal_argument(format!(
        "Failed to parse rewrite_method [{s}]"
    )))
}

fn object<'a>(body: &'a Value, name: &str) -> Result<&'a Map<String, Value>, EsError> {
    body.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[{name}] query malformed, no start_object after query name"
        ))
    })
}

/// The value kinds both Lucene-syntax queries accept: an array only for `fields` (returned), an
/// object never, any scalar otherwise (`None`), with Elasticsearch's errors for the rest.
fn fields_or_scalar(name: &str, k: &str, v: &Value) -> Result<Option<Vec<(String, f64)>>, EsError> {
    match v {
        Value::Array(a) if k == "fields" => Ok(Some(fields_of(a)?)),
        Value::Array(_) => Err(EsError::parsing(format!(
            "[{name}] query does not support [{k}]"
        ))),
        Value::Object(_) => Err(EsError::parsing(format!(
            "[{name}] unknown token [{}] after [{k}]",
            token_name(v)
        ))),
        _ => Ok(None),
    }
}

pub fn parse_query_string(body: &Value) -> Result<Query, EsError> {
    const NAME: &str = "query_string";
    let mut q = QueryString::default();
    let mut query = None;
    for (k, v) in object(body, NAME)? {
        if let Some(fields) = fields_or_scalar(NAME, k, v)? {
            q.fields = Some(fields);
            continue;
        }
        match k.as_str() {
            "query" => query = Some(text_of(v)),
            "default_field" => q.default_field = Some(text_of(v)),
            "default_operator" => q.default_operator = operator_of(v)?,
            "analyzer" => q.force_standard_analyzer = analyzer_of(NAME, k, v)?,
            "quote_analyzer" => {
                analyzer_of(NAME, k, v)?;
            }
            "allow_leading_wildcard" => q.allow_leading_wildcard = bool_of(v)?,
            "analyze_wildcard" => q.analyze_wildcard = bool_of(v)?,
            "lenient" => q.lenient = Some(bool_of(v)?),
            "time_zone" => {
                let tz = text_of(v);
                crate::schema::dates::parse_date_math(
                    "2020-01-01",
                    "strict_date_optional_time",
                    0,
                    false,
                    Some(&tz),
                )
                .map_err(|_| EsError::parsing(format!("[{NAME}] time_zone [{tz}] is unknown")))?;
                q.time_zone = Some(tz);
            }
            "minimum_should_match" => {
                q.minimum_should_match = if v.is_null() {
                    None
                } else {
                    Some(MinimumShouldMatch::parse(v)?)
                }
            }
            "boost" => q.boost = boost_of(v, NAME)?,
            "fuzziness" => q.fuzziness = fuzziness_of(v)?,
            "fuzzy_prefix_length" => q.fuzzy_prefix_length = int_of(v, k)? as usize,
            "fuzzy_max_expansions" => q.fuzzy_max_expansions = int_of(v, k)?,
            "fuzzy_transpositions" => q.fuzzy_transpositions = bool_of(v)?,
            "fuzzy_rewrite" | "rewrite" => {
                if !v.is_null() {
                    rewrite_of(v)?
                }
            }
            "phrase_slop" => q.phrase_slop = int_of(v, k)?,
            "quote_field_suffix" => q.quote_field_suffix = v.as_str().map(str::to_string),
            "tie_breaker" => {
                q.tie_breaker = Some(v.as_f64().ok_or_else(|| {
                    EsError::x_content_parse(format!("[{k}] failed to parse field value"))
                })?)
            }
            "type" => {
                let t = text_of(v);
                q.multi_type = match t.as_str() {
                    "best_fields" | "bestFields" => MultiType::BestFields,
                    "most_fields" | "mostFields" => MultiType::MostFields,
                    "cross_fields" | "phrase" | "phrase_prefix" | "bool_prefix" => {
                        return Err(EsError::unsupported(format!("[{NAME}] type [{t}]")));
                    }
                    _ => {
                        return Err(EsError::new(
                            400,
                            "parse_exception",
                            format!("[multi_match] query does not support type {t}"),
                        ));
                    }
                }
            }
            "escape" => q.escape = bool_of(v)?,
            // Standard analysis has no stop words or synonyms, and regular expressions run on
            // ClickHouse's RE2 (no automaton to bound): these options change nothing here, and are
            // checked for type only.
            "auto_generate_synonyms_phrase_query" | "enable_position_increments" => {
                bool_of(v)?;
            }
            "max_determinized_states" => {
                int_of(v, k)?;
            }
            "_name" => {}
            other => {
                return Err(EsError::parsing(format!(
                    "[{NAME}] query does not support [{other}]"
                )));
            }
        }
    }
    q.query = query
        .ok_or_else(|| EsError::parsing(format!("[{NAME}] must be provided with a [query]")))?;
    if q.fields.as_ref().is_some_and(|f| !f.is_empty()) && q.default_field.is_some() {
        return Err(EsError::new(
            400,
            "query_validation_exception",
            "Validation Failed: 1: [query_string] cannot use [fields] parameter in conjunction with [default_field];",
        ));
    }
    Ok(Query::QueryString(Box::new(q)))
}

/// The `simple_query_string` query.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleQueryString {
    pub query: String,
    pub fields: Option<Vec<(String, f64)>>,
    pub default_operator: Operator,
    pub flags: u32,
    pub force_standard_analyzer: bool,
    pub analyze_wildcard: bool,
    pub lenient: Option<bool>,
    pub minimum_should_match: Option<MinimumShouldMatch>,
    pub quote_field_suffix: Option<String>,
    pub fuzzy_prefix_length: usize,
    pub fuzzy_max_expansions: u64,
    pub fuzzy_transpositions: bool,
    pub boost: f64,
}

impl Default for SimpleQueryString {
    fn default() -> Self {
        SimpleQueryString {
            query: String::new(),
            fields: None,
            default_operator: Operator::Or,
            flags: simple::ALL,
            force_standard_analyzer: false,
            analyze_wildcard: false,
            lenient: None,
            minimum_should_match: None,
            quote_field_suffix: None,
            fuzzy_prefix_length: 0,
            fuzzy_max_expansions: 50,
            fuzzy_transpositions: true,
            boost: 1.0,
        }
    }
}

pub fn parse_simple_query_string(body: &Value) -> Result<Query, EsError> {
    const NAME: &str = "simple_query_string";
    let mut q = SimpleQueryString::default();
    let mut query = None;
    for (k, v) in object(body, NAME)? {
        if let Some(fields) = fields_or_scalar(NAME, k, v)? {
            q.fields = Some(fields);
            continue;
        }
        match k.as_str() {
            "query" => query = Some(text_of(v)),
            "default_operator" => q.default_operator = operator_of(v)?,
            "analyzer" => q.force_standard_analyzer = analyzer_of(NAME, k, v)?,
            "flags" => {
                q.flags = match v {
                    Value::Number(n) => n.as_i64().unwrap_or(-1) as u32,
                    other => {
                        simple::parse_flags(&text_of(other)).map_err(EsError::illegal_argument)?
                    }
                }
            }
            "lenient" => q.lenient = Some(bool_of(v)?),
            "analyze_wildcard" => q.analyze_wildcard = bool_of(v)?,
            "minimum_should_match" => {
                q.minimum_should_match = if v.is_null() {
                    None
                } else {
                    Some(MinimumShouldMatch::parse(v)?)
                }
            }
            "quote_field_suffix" => q.quote_field_suffix = v.as_str().map(str::to_string),
            "fuzzy_prefix_length" => q.fuzzy_prefix_length = int_of(v, k)? as usize,
            "fuzzy_max_expansions" => q.fuzzy_max_expansions = int_of(v, k)?,
            "fuzzy_transpositions" => q.fuzzy_transpositions = bool_of(v)?,
            "auto_generate_synonyms_phrase_query" => {
                bool_of(v)?;
            }
            "boost" => q.boost = boost_of(v, NAME)?,
            "_name" => {}
            other => {
                return Err(EsError::parsing(format!(
                    "[{NAME}] unsupported field [{other}]"
                )));
            }
        }
    }
    q.query =
        query.ok_or_else(|| EsError::illegal_argument(format!("[{NAME}] query text missing")))?;
    Ok(Query::SimpleQueryString(Box::new(q)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::parse_query;
    use serde_json::json;

    fn qs(body: Value) -> QueryString {
        match parse_query(&json!({ "query_string": body })).unwrap() {
            Query::QueryString(q) => *q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_with_their_defaults() {
        // query-dsl-query-string-query.html, "Top-level parameters".
        let q = qs(json!({"query": "a"}));
        assert_eq!(q.query, "a");
        assert_eq!(q.default_operator, Operator::Or);
        assert!(q.allow_leading_wildcard);
        assert_eq!(q.fuzziness, "AUTO");
        assert_eq!(q.fuzzy_max_expansions, 50);
        let q = qs(json!({
            "query": "a", "fields": ["title^3", "msg*"], "default_operator": "AND",
            "lenient": true, "minimum_should_match": "75%", "boost": 2, "fuzziness": 1,
            "phrase_slop": 2, "tie_breaker": 0.3, "type": "most_fields", "time_zone": "+01:00",
            "analyzer": "standard", "rewrite": "top_terms_10", "escape": false, "_name": "n",
            "max_determinized_states": 10000, "enable_position_increments": true,
            "auto_generate_synonyms_phrase_query": true, "quote_field_suffix": ".exact",
            "analyze_wildcard": true, "allow_leading_wildcard": false, "fuzzy_prefix_length": 1,
            "fuzzy_transpositions": false
        }));
        assert_eq!(
            q.fields,
            Some(vec![("title".to_string(), 3.0), ("msg*".to_string(), 1.0)])
        );
        assert_eq!(q.default_operator, Operator::And);
        assert_eq!(q.multi_type, MultiType::MostFields);
        assert!(q.force_standard_analyzer);
        assert_eq!(q.time_zone.as_deref(), Some("+01:00"));
    }

    #[test]
    fn option_errors_in_elasticsearch_words() {
        // QueryStringQueryBuilder#fromXContent.
        let e = parse_query(&json!({"query_string": {"query": "a", "foo": "x"}})).unwrap_err();
        assert_eq!(e.kind, "parsing_exception");
        assert_eq!(e.reason, "[query_string] query does not support [foo]");
        let e = parse_query(&json!({"query_string": {"query": "a", "foo": {}}})).unwrap_err();
        assert_eq!(
            e.reason,
            "[query_string] unknown token [START_OBJECT] after [foo]"
        );
        let e = parse_query(&json!({"query_string": {"default_field": "a"}})).unwrap_err();
        assert_eq!(e.reason, "[query_string] must be provided with a [query]");
        let e = parse_query(&json!({"query_string": {"query": "a", "default_operator": "xor"}}))
            .unwrap_err();
        assert_eq!(
            e.reason,
            "operator needs to be either [OR, AND], but not [xor]"
        );
        let e = parse_query(
            &json!({"query_string": {"query": "a", "fields": ["a"], "default_field": "b"}}),
        )
        .unwrap_err();
        assert!(
            e.reason
                .contains("cannot use [fields] parameter in conjunction with [default_field]")
        );
        let e = parse_query(&json!({"query_string": {"query": "a", "time_zone": "Mars/Base"}}))
            .unwrap_err();
        assert_eq!(e.reason, "[query_string] time_zone [Mars/Base] is unknown");
        // Analyzers other than standard and types other than best/most_fields: a clear 400.
        let e = parse_query(&json!({"query_string": {"query": "a", "analyzer": "whitespace"}}))
            .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.unsupported_feature().is_some());
        let e = parse_query(&json!({"query_string": {"query": "a", "type": "cross_fields"}}))
            .unwrap_err();
        assert!(e.unsupported_feature().is_some());
        let e =
            parse_query(&json!({"query_string": {"query": "a", "rewrite": "bogus"}})).unwrap_err();
        assert_eq!(e.reason, "Failed to parse rewrite_method [bogus]");
    }

    #[test]
    fn simple_query_string_options() {
        // SimpleQueryStringBuilder#fromXContent.
        let q = match parse_query(&json!({"simple_query_string": {
            "query": "a", "fields": ["t^2"], "flags": "OR|AND", "default_operator": "and",
            "lenient": true, "minimum_should_match": 1, "analyze_wildcard": true
        }}))
        .unwrap()
        {
            Query::SimpleQueryString(q) => *q,
            other => panic!("{other:?}"),
        };
        assert_eq!(q.flags, simple::OR | simple::AND);
        assert_eq!(q.default_operator, Operator::And);
        let e = parse_query(&json!({"simple_query_string": {"query": "a", "foo": 1}})).unwrap_err();
        assert_eq!(e.reason, "[simple_query_string] unsupported field [foo]");
        let e = parse_query(&json!({"simple_query_string": {"fields": ["a"]}})).unwrap_err();
        assert_eq!(e.reason, "[simple_query_string] query text missing");
        let e = parse_query(&json!({"simple_query_string": {"query": "a", "flags": "BOGUS"}}))
            .unwrap_err();
        assert_eq!(e.reason, "Unknown simple_query_string flag [BOGUS]");
    }
}
