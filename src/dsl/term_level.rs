//! Term-level queries on exact values: prefix, wildcard, regexp, fuzzy.
//! (PrefixQueryBuilder.java, WildcardQueryBuilder.java, RegexpQueryBuilder.java, FuzzyQueryBuilder.java;
//! docs: query-dsl-prefix-query.html, query-dsl-wildcard-query.html, query-dsl-regexp-query.html,
//! query-dsl-fuzzy-query.html)
//!
//! All four take `{"<field>": "<value>"}` or `{"<field>": {"value": …, <params>}}`. Unknown
//! parameters are `parsing_exception`s worded as Elasticsearch words them.

use super::{Query, boost_of, single_field, unknown_field};
use crate::error::EsError;
use serde_json::{Map, Value};

/// The `prefix` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prefix {
    pub field: String,
    pub value: String,
    pub case_insensitive: bool,
    pub boost: f64,
}

/// The `wildcard` query: `*` any sequence, `?` one character, `\` escapes the next character.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wildcard {
    pub field: String,
    pub value: String,
    pub case_insensitive: bool,
    pub boost: f64,
}

/// Optional operators of Lucene's regular expression syntax (Lucene `RegExp` flag bits, as
/// Elasticsearch's `RegexpFlag` names them).
pub mod regexp_flags {
    pub const INTERSECTION: u32 = 0x0001;
    pub const COMPLEMENT: u32 = 0x0002;
    pub const EMPTY: u32 = 0x0004;
    pub const ANYSTRING: u32 = 0x0008;
    pub const INTERVAL: u32 = 0x0020;
    pub const NONE: u32 = 0;
    pub const ALL: u32 = 0xffff;
}

/// The `regexp` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Regexp {
    pub field: String,
    pub value: String,
    /// Bits of [`regexp_flags`]; default ALL.
    pub flags: u32,
    pub case_insensitive: bool,
    pub max_determinized_states: u64,
    pub boost: f64,
}

/// `fuzziness` (common-options.html#fuzziness).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fuzziness {
    /// A fixed number of edits, 0..=2.
    Edits(u8),
    /// `AUTO:low,high`: 0 edits below `low` characters, 1 below `high`, else 2 (`AUTO` = 3,6).
    Auto { low: u32, high: u32 },
}

impl Default for Fuzziness {
    fn default() -> Self {
        Fuzziness::Auto { low: 3, high: 6 }
    }
}

impl Fuzziness {
    /// Parses a fuzziness value as Elasticsearch's `Fuzziness.parse` does.
    pub fn parse(v: &Value) -> Result<Fuzziness, EsError> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(EsError::parsing(format!(
                    "[fuzziness] Can't parse fuzziness on token: [{}]",
                    token_name(other)
                )));
            }
        };
        let upper = text.to_uppercase();
        if upper == "AUTO" {
            return Ok(Fuzziness::default());
        }
        if let Some(limits) = upper.strip_prefix("AUTO:") {
            let parts: Vec<&str> = limits.split(',').collect();
            if parts.len() != 2 {
                return Err(EsError::new(
                    400,
                    "parse_exception",
                    "failed to find low and high distance values",
                ));
            }
            let parse = |s: &str| s.trim().parse::<i64>();
            return match (parse(parts[0]), parse(parts[1])) {
                (Ok(low), Ok(high)) if low >= 0 && high >= 0 && low <= high => {
                    Ok(Fuzziness::Auto {
                        low: low as u32,
                        high: high as u32,
                    })
                }
                (Ok(_), Ok(_)) => Err(EsError::illegal_argument(
                    "fuzziness wrongly configured, must be: lowDistance > 0, highDistance > 0 and lowDistance <= highDistance ",
                )),
                _ => Err(EsError::new(
                    400,
                    "parse_exception",
                    format!("failed to parse [{text}] as a \"auto:int,int\""),
                )),
            };
        }
        // A number: edits are its integer part, at most 2 (`Fuzziness#asDistance`).
        let n: f64 = text
            .trim()
            .parse()
            .map_err(|_| EsError::illegal_argument(format!("Invalid fuzziness value: {text}")))?;
        if n < 0.0 || !n.is_finite() {
            return Err(EsError::illegal_argument(format!(
                "Invalid fuzziness value: {text}"
            )));
        }
        Ok(Fuzziness::Edits(n.min(2.0) as u8))
    }

    /// The number of edits allowed for a term (length in code points, `Fuzziness#asDistance`).
    pub fn edits_for(&self, term: &str) -> u8 {
        match *self {
            Fuzziness::Edits(n) => n,
            Fuzziness::Auto { low, high } => {
                let len = term.chars().count() as u32;
                if len < low {
                    0
                } else if len < high {
                    1
                } else {
                    2
                }
            }
        }
    }
}

/// The `fuzzy` query.
#[derive(Debug, Clone, PartialEq)]
pub struct Fuzzy {
    pub field: String,
    pub value: String,
    pub fuzziness: Fuzziness,
    pub prefix_length: usize,
    pub max_expansions: u64,
    pub transpositions: bool,
    pub boost: f64,
}

fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
    }
}

/// The text of a scalar value (numbers and booleans as written).
fn scalar_text(query: &str, v: &Value) -> Result<Option<String>, EsError> {
    Ok(match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => {
            return Err(EsError::parsing(format!(
                "[{query}] unexpected token [{}] for the value",
                token_name(other)
            )));
        }
    })
}

fn bool_param(query: &str, key: &str, v: &Value) -> Result<bool, EsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(EsError::parsing(format!(
            "[{query}] failed to parse field [{key}]: expected a boolean"
        ))),
    }
}

fn int_param(query: &str, key: &str, v: &Value) -> Result<i64, EsError> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| {
            EsError::parsing(format!(
                "[{query}] failed to parse field [{key}]: expected an integer"
            ))
        })
}

/// The parameter object of the long form, or the value of the short form.
type Spec<'a> = Result<&'a Map<String, Value>, &'a Value>;

/// Splits the body of a term-level query into its field and either the short-form value or the
/// parameter object.
fn field_spec<'a>(query: &str, body: &'a Value) -> Result<(String, Spec<'a>), EsError> {
    let o = body.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[{query}] query malformed, no start_object after query name"
        ))
    })?;
    let (field, spec) = single_field(query, o)?;
    if field.is_empty() {
        return Err(EsError::illegal_argument("field name is null or empty"));
    }
    Ok((
        field.clone(),
        match spec {
            Value::Object(m) => Ok(m),
            v => Err(v),
        },
    ))
}

fn required_value(v: Option<String>, what: &str) -> Result<String, EsError> {
    v.ok_or_else(|| EsError::illegal_argument(format!("{what} cannot be null")))
}

/// Shared by prefix and wildcard: `value` (and `alias`), `case_insensitive`, `rewrite`, boost, name.
fn parse_pattern_query(
    query: &str,
    alias: &str,
    body: &Value,
) -> Result<(String, String, bool, f64), EsError> {
    let (field, spec) = field_spec(query, body)?;
    let mut value = None;
    let mut case_insensitive = false;
    let mut boost = 1.0;
    match spec {
        Err(v) => value = scalar_text(query, v)?,
        Ok(m) => {
            for (k, v) in m {
                match k.as_str() {
                    "value" => value = scalar_text(query, v)?,
                    k if k == alias => value = scalar_text(query, v)?,
                    "case_insensitive" => case_insensitive = bool_param(query, k, v)?,
                    "rewrite" | "_name" => {}
                    "boost" => boost = boost_of(v, query)?,
                    other => return Err(unknown_field(query, other)),
                }
            }
        }
    }
    Ok((
        field,
        required_value(value, "value")?,
        case_insensitive,
        boost,
    ))
}

pub fn parse_prefix(body: &Value) -> Result<Query, EsError> {
    let (field, value, case_insensitive, boost) = parse_pattern_query("prefix", "prefix", body)?;
    Ok(Query::Prefix(Box::new(Prefix {
        field,
        value,
        case_insensitive,
        boost,
    })))
}

pub fn parse_wildcard(body: &Value) -> Result<Query, EsError> {
    let (field, value, case_insensitive, boost) =
        parse_pattern_query("wildcard", "wildcard", body)?;
    Ok(Query::Wildcard(Box::new(Wildcard {
        field,
        value,
        case_insensitive,
        boost,
    })))
}

/// `flags` as `RegexpFlag#resolveValue` reads it: names separated by `|`, case-insensitive.
pub fn parse_regexp_flags(s: &str) -> Result<u32, EsError> {
    use regexp_flags::*;
    if s.trim().is_empty() {
        return Ok(ALL);
    }
    let mut bits = 0;
    for name in s.split('|') {
        bits |= match name.trim().to_uppercase().as_str() {
            "INTERSECTION" => INTERSECTION,
            "COMPLEMENT" => COMPLEMENT,
            "EMPTY" => EMPTY,
            "ANYSTRING" => ANYSTRING,
            "INTERVAL" => INTERVAL,
            "NONE" => NONE,
            "ALL" => ALL,
            _ => {
                return Err(EsError::illegal_argument(format!(
                    "Unknown regexp flag [{name}]"
                )));
            }
        };
    }
    Ok(bits)
}

pub fn parse_regexp(body: &Value) -> Result<Query, EsError> {
    let (field, spec) = field_spec("regexp", body)?;
    let mut q = Regexp {
        field,
        flags: regexp_flags::ALL,
        max_determinized_states: 10_000,
        boost: 1.0,
        ..Default::default()
    };
    let mut value = None;
    match spec {
        Err(v) => value = scalar_text("regexp", v)?,
        Ok(m) => {
            for (k, v) in m {
                match k.as_str() {
                    "value" => value = scalar_text("regexp", v)?,
                    "flags" => {
                        q.flags =
                            parse_regexp_flags(&scalar_text("regexp", v)?.unwrap_or_default())?
                    }
                    "flags_value" => q.flags = int_param("regexp", k, v)? as u32,
                    "max_determinized_states" => {
                        q.max_determinized_states = int_param("regexp", k, v)?.max(0) as u64
                    }
                    "case_insensitive" => q.case_insensitive = bool_param("regexp", k, v)?,
                    "rewrite" | "_name" => {}
                    "boost" => q.boost = boost_of(v, "regexp")?,
                    other => return Err(unknown_field("regexp", other)),
                }
            }
        }
    }
    q.value = required_value(value, "value")?;
    Ok(Query::Regexp(Box::new(q)))
}

pub fn parse_fuzzy(body: &Value) -> Result<Query, EsError> {
    let (field, spec) = field_spec("fuzzy", body)?;
    let mut q = Fuzzy {
        field,
        value: String::new(),
        fuzziness: Fuzziness::default(),
        prefix_length: 0,
        max_expansions: 50,
        transpositions: true,
        boost: 1.0,
    };
    let mut value = None;
    match spec {
        Err(v) => value = scalar_text("fuzzy", v)?,
        Ok(m) => {
            for (k, v) in m {
                match k.as_str() {
                    "value" => value = scalar_text("fuzzy", v)?,
                    "fuzziness" => q.fuzziness = Fuzziness::parse(v)?,
                    "prefix_length" => {
                        let n = int_param("fuzzy", k, v)?;
                        if n < 0 {
                            return Err(EsError::illegal_argument(
                                "prefixLength cannot be less than 0.",
                            ));
                        }
                        q.prefix_length = n as usize;
                    }
                    "max_expansions" => {
                        let n = int_param("fuzzy", k, v)?;
                        if n <= 0 {
                            return Err(EsError::illegal_argument(
                                "maxExpansions must be positive.",
                            ));
                        }
                        q.max_expansions = n as u64;
                    }
                    "transpositions" => q.transpositions = bool_param("fuzzy", k, v)?,
                    "rewrite" | "_name" => {}
                    "boost" => q.boost = boost_of(v, "fuzzy")?,
                    other => return Err(unknown_field("fuzzy", other)),
                }
            }
        }
    }
    q.value = required_value(value, "query value")?;
    Ok(Query::Fuzzy(Box::new(q)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::parse_query;
    use serde_json::json;

    #[test]
    fn short_and_long_forms() {
        // query-dsl-prefix-query.html#prefix-query-short-ex
        let q = parse_query(&json!({"prefix": {"user": "ki"}})).unwrap();
        assert!(matches!(q, Query::Prefix(p) if p.value == "ki" && p.boost == 1.0));
        let q = parse_query(&json!({"wildcard": {"user": {"wildcard": "k*y", "boost": 2, "case_insensitive": true, "rewrite": "constant_score"}}})).unwrap();
        assert!(
            matches!(q, Query::Wildcard(w) if w.value == "k*y" && w.boost == 2.0 && w.case_insensitive)
        );
        let q = parse_query(
            &json!({"regexp": {"user": {"value": "k.*y", "flags": "INTERSECTION|COMPLEMENT"}}}),
        )
        .unwrap();
        assert!(matches!(q, Query::Regexp(r) if r.flags == 3));
        let q = parse_query(&json!({"fuzzy": {"user": {"value": "ki", "fuzziness": "AUTO:2,4", "prefix_length": 1, "transpositions": false}}})).unwrap();
        assert!(
            matches!(q, Query::Fuzzy(f) if f.fuzziness == Fuzziness::Auto { low: 2, high: 4 } && f.prefix_length == 1 && !f.transpositions)
        );
    }

    #[test]
    fn errors_are_worded_like_elasticsearch() {
        let e = parse_query(&json!({"prefix": {"user": {"value": "ki", "foo": 1}}})).unwrap_err();
        assert_eq!(e.reason, "[prefix] query does not support [foo]");
        let e = parse_query(&json!({"fuzzy": {"user": {"value": "ki", "case_insensitive": true}}}))
            .unwrap_err();
        assert_eq!(
            e.reason,
            "[fuzzy] query does not support [case_insensitive]"
        );
        let e =
            parse_query(&json!({"regexp": {"user": {"value": "x", "flags": "FOO"}}})).unwrap_err();
        assert_eq!(e.reason, "Unknown regexp flag [FOO]");
        let e = parse_query(&json!({"wildcard": {"a": "x", "b": "y"}})).unwrap_err();
        assert!(e.reason.contains("doesn't support multiple fields"), "{e}");
        let e = parse_query(&json!({"prefix": {"user": {"boost": 2}}})).unwrap_err();
        assert_eq!(e.reason, "value cannot be null");
    }

    #[test]
    fn fuzziness_values() {
        // common-options.html#fuzziness: AUTO = AUTO:3,6; numbers above 2 mean 2.
        let f = |v: Value| Fuzziness::parse(&v).unwrap();
        assert_eq!(f(json!("auto")).edits_for("ab"), 0);
        assert_eq!(f(json!("AUTO")).edits_for("abc"), 1);
        assert_eq!(f(json!("AUTO")).edits_for("abcdef"), 2);
        assert_eq!(f(json!("AUTO:1,2")).edits_for("ab"), 2);
        assert_eq!(f(json!(1)).edits_for("abcdefgh"), 1);
        assert_eq!(f(json!("2")).edits_for("a"), 2);
        assert_eq!(f(json!(5)).edits_for("a"), 2);
        assert!(Fuzziness::parse(&json!("AUTO:1")).is_err());
        assert!(Fuzziness::parse(&json!("lots")).is_err());
    }
}
