//! The query DSL as typed values, parsed from JSON with Elasticsearch's errors.
//!
//! One query type, one small parser below; unknown query types and unknown parameters are errors
//! (`parsing_exception`), never silently dropped. Query types Elasticsearch has but elastichouse does
//! not implement yet are rejected with a 400 that names them, and they show on the debug UI.
//! (Query parsing in Elasticsearch: server/src/main/java/org/elasticsearch/index/query/*QueryBuilder.java)

pub mod compound;
pub mod full_text;
pub mod geo;
pub mod kql;
pub mod painless;
pub mod query_string;
pub mod term_level;

use crate::error::EsError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    MatchAll {
        boost: f64,
    },
    MatchNone,
    Term {
        field: String,
        value: Value,
        case_insensitive: bool,
        boost: f64,
    },
    Terms {
        field: String,
        values: Vec<Value>,
        boost: f64,
    },
    Range(Box<Range>),
    Exists {
        field: String,
        boost: f64,
    },
    Ids {
        values: Vec<String>,
        boost: f64,
    },
    Bool(Box<Bool>),
    // Full-text queries: dsl/full_text.rs, plan/full_text.rs.
    Match(Box<full_text::Match>),
    MatchPhrase(Box<full_text::MatchPhrase>),
    MultiMatch(Box<full_text::MultiMatch>),
    // Term-level queries: dsl/term_level.rs, plan/term_level.rs.
    Prefix(Box<term_level::Prefix>),
    Wildcard(Box<term_level::Wildcard>),
    Regexp(Box<term_level::Regexp>),
    Fuzzy(Box<term_level::Fuzzy>),
    // Compound queries: dsl/compound.rs, plan/compound.rs.
    ConstantScore(Box<compound::ConstantScore>),
    Boosting(Box<compound::Boosting>),
    DisMax(Box<compound::DisMax>),
    Nested(Box<compound::Nested>),
    // Geo queries: dsl/geo.rs, plan/geo.rs.
    GeoBoundingBox(Box<geo::GeoBoundingBox>),
    GeoDistance(Box<geo::GeoDistance>),
    // Lucene syntax: dsl/query_string.rs, plan/query_string.rs.
    QueryString(Box<query_string::QueryString>),
    SimpleQueryString(Box<query_string::SimpleQueryString>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Range {
    pub field: String,
    pub gt: Option<Value>,
    pub gte: Option<Value>,
    pub lt: Option<Value>,
    pub lte: Option<Value>,
    pub format: Option<String>,
    pub time_zone: Option<String>,
    pub boost: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bool {
    pub must: Vec<Query>,
    pub filter: Vec<Query>,
    pub should: Vec<Query>,
    pub must_not: Vec<Query>,
    pub minimum_should_match: Option<MinimumShouldMatch>,
    pub boost: f64,
}

/// `minimum_should_match` in every form Elasticsearch accepts
/// (docs: query-dsl-minimum-should-match.html).
#[derive(Debug, Clone, PartialEq)]
pub enum MinimumShouldMatch {
    /// `3`, `-2`
    Count(i64),
    /// `75%`, `-25%`
    Percent(f64),
    /// `3<90%`, `2<-25% 9<-3`: (above this many clauses, apply this spec)
    Conditional(Vec<(usize, MinimumShouldMatch)>),
}

impl MinimumShouldMatch {
    pub fn parse(v: &Value) -> Result<MinimumShouldMatch, EsError> {
        let s = match v {
            Value::Number(n) => {
                return n
                    .as_i64()
                    .map(MinimumShouldMatch::Count)
                    .ok_or_else(|| bad_msm(v));
            }
            Value::String(s) => s.trim().to_string(),
            _ => return Err(bad_msm(v)),
        };
        if s.contains('<') {
            let mut parts = Vec::new();
            for part in s.split_whitespace() {
                let (n, spec) = part.split_once('<').ok_or_else(|| bad_msm(v))?;
                let n: usize = n.parse().map_err(|_| bad_msm(v))?;
                parts.push((n, Self::parse(&Value::String(spec.to_string()))?));
            }
            return Ok(MinimumShouldMatch::Conditional(parts));
        }
        if let Some(p) = s.strip_suffix('%') {
            return p
                .parse::<f64>()
                .map(MinimumShouldMatch::Percent)
                .map_err(|_| bad_msm(v));
        }
        s.parse::<i64>()
            .map(MinimumShouldMatch::Count)
            .map_err(|_| bad_msm(v))
    }

    /// How many of `optional` clauses must match (Lucene's Queries.calculateMinShouldMatch).
    pub fn required(&self, optional: usize) -> usize {
        let n = optional as i64;
        let r = match self {
            MinimumShouldMatch::Count(c) if *c < 0 => n + c,
            MinimumShouldMatch::Count(c) => *c,
            MinimumShouldMatch::Percent(p) => {
                let calc = ((n as f64) * p / 100.0) as i64; // truncation toward zero, as ES
                if *p < 0.0 { n + calc } else { calc }
            }
            MinimumShouldMatch::Conditional(parts) => {
                let mut r = n;
                for (above, spec) in parts {
                    if optional > *above {
                        r = spec.required(optional) as i64;
                    }
                }
                r
            }
        };
        // Only floored at 0 (Queries#calculateMinShouldMatch): a value above the number of optional
        // clauses is kept, and then nothing matches, as in Lucene.
        r.max(0) as usize
    }
}

fn bad_msm(v: &Value) -> EsError {
    EsError::illegal_argument(format!("Invalid minimum_should_match value [{v}]"))
}

/// Query types of Elasticsearch that are not implemented here yet.
const KNOWN_UNSUPPORTED: [&str; 16] = [
    "geo_shape",
    "geo_polygon",
    "geo_grid",
    "script",
    "script_score",
    "function_score",
    "more_like_this",
    "has_child",
    "has_parent",
    "parent_id",
    "intervals",
    "combined_fields",
    "percolate",
    "pinned",
    "rank_feature",
    "distance_feature",
];

/// The error for a query type Elasticsearch has and elastichouse does not implement (yet).
pub fn unsupported_query(kind: &str) -> EsError {
    EsError::parsing(format!("elastichouse does not support query [{kind}] yet")).with(
        "elastichouse.unsupported_feature",
        format!("query [{kind}]"),
    )
}

pub(crate) fn unknown_field(query: &str, field: &str) -> EsError {
    EsError::parsing(format!("[{query}] query does not support [{field}]"))
}

pub(crate) fn boost_of(v: &Value, query: &str) -> Result<f64, EsError> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| EsError::parsing(format!("[{query}] boost must be a number")))
}

/// The single `{field: …}` entry of a leaf query, Elasticsearch style.
pub(crate) fn single_field<'a>(
    query: &str,
    obj: &'a Map<String, Value>,
) -> Result<(&'a String, &'a Value), EsError> {
    let mut it = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "boost" && k.as_str() != "_name");
    let first = it.next().ok_or_else(|| {
        EsError::parsing(format!("[{query}] query malformed, no field specified"))
    })?;
    if let Some((second, _)) = it.next() {
        return Err(EsError::parsing(format!(
            "[{query}] query doesn't support multiple fields, found [{}] and [{second}]",
            first.0
        )));
    }
    Ok(first)
}

/// `indices.query.bool.max_nested_depth` (SearchModule#INDICES_MAX_NESTED_DEPTH_SETTING): how
/// deep query objects may nest, the outermost query counting 1.
pub const MAX_NESTED_DEPTH: usize = 30;

thread_local! {
    /// The nesting depth of the query being parsed on this thread (parsing is synchronous, so a
    /// thread-local counter follows one parse exactly, like the counting parser wrapper of
    /// AbstractQueryBuilder#parseTopLevelQuery).
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of query nesting; leaving it (also by `?`) steps back out.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard, EsError> {
        let d = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let guard = DepthGuard;
        if d > MAX_NESTED_DEPTH {
            return Err(nested_depth_error());
        }
        Ok(guard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Elasticsearch's answer to a query nested deeper than `indices.query.bool.max_nested_depth`:
/// the IllegalArgumentException of AbstractQueryBuilder inside the `x_content_parse_exception` of
/// the object parser that was reading the enclosing query.
pub fn nested_depth_error() -> EsError {
    EsError::x_content_parse("failed to parse the query: it is nested too deeply").caused_by(
        EsError::illegal_argument(
            "The nested depth of the query exceeds the maximum nested depth for queries set in \
             [indices.query.bool.max_nested_depth]",
        ),
    )
}

impl Query {
    /// The leaf queries of this tree, as Lucene's IndexSearcher counts them against
    /// `indices.query.bool.max_clause_count` when it visits a rewritten query. (Recursion is
    /// bounded: parsing stops at [`MAX_NESTED_DEPTH`].)
    pub fn leaf_count(&self) -> usize {
        match self {
            Query::Bool(b) => [&b.must, &b.filter, &b.should, &b.must_not]
                .iter()
                .flat_map(|v| v.iter())
                .map(Query::leaf_count)
                .sum(),
            Query::ConstantScore(c) => c.filter.leaf_count(),
            Query::Boosting(b) => b.positive.leaf_count() + b.negative.leaf_count(),
            Query::DisMax(d) => d.queries.iter().map(Query::leaf_count).sum(),
            Query::Nested(n) => n.query.leaf_count(),
            _ => 1,
        }
    }
}

/// Elasticsearch's answer to a query with more clauses than `indices.query.bool.max_clause_count`
/// (since 8.15, elastic/elasticsearch#112678): the shard's IllegalArgumentException "Query
/// rewrite failed: too many clauses" around Lucene's TooManyNestedClauses.
pub fn too_many_clauses(max: u64) -> EsError {
    EsError::illegal_argument("Query rewrite failed: too many clauses").caused_by(EsError::new(
        400,
        "too_many_nested_clauses",
        format!("Query contains too many nested clauses; maxClauseCount is set to {max}"),
    ))
}

/// Parses a query object (`{"term": {...}}`).
pub fn parse_query(v: &Value) -> Result<Query, EsError> {
    let _depth = DepthGuard::enter()?;
    let Value::Object(obj) = v else {
        return Err(EsError::parsing(
            "[_na] query malformed, must start with start_object",
        ));
    };
    if obj.is_empty() {
        return Ok(Query::MatchAll { boost: 1.0 });
    }
    if obj.len() > 1 {
        let keys: Vec<&String> = obj.keys().collect();
        return Err(EsError::parsing(format!(
            "[{}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
            keys[0]
        )));
    }
    let (kind, body) = obj.iter().next().expect("one entry");
    match kind.as_str() {
        "match_all" => {
            let mut boost = 1.0;
            for (k, v) in body
                .as_object()
                .ok_or_else(|| EsError::parsing("[match_all] query malformed"))?
            {
                match k.as_str() {
                    "boost" => boost = boost_of(v, "match_all")?,
                    "_name" => {}
                    other => return Err(unknown_field("match_all", other)),
                }
            }
            Ok(Query::MatchAll { boost })
        }
        "match_none" => Ok(Query::MatchNone),
        "term" => parse_term(body),
        "terms" => parse_terms(body),
        "range" => parse_range(body),
        "exists" => {
            let o = body
                .as_object()
                .ok_or_else(|| EsError::parsing("[exists] query malformed"))?;
            let mut field = None;
            let mut boost = 1.0;
            for (k, v) in o {
                match k.as_str() {
                    "field" => field = v.as_str().map(str::to_string),
                    "boost" => boost = boost_of(v, "exists")?,
                    "_name" => {}
                    other => return Err(unknown_field("exists", other)),
                }
            }
            let field = field
                .ok_or_else(|| EsError::parsing("[exists] must be provided with a [field]"))?;
            Ok(Query::Exists { field, boost })
        }
        "ids" => {
            let o = body
                .as_object()
                .ok_or_else(|| EsError::parsing("[ids] query malformed"))?;
            let mut values = vec![];
            let mut boost = 1.0;
            for (k, v) in o {
                match k.as_str() {
                    "values" => {
                        values = v
                            .as_array()
                            .ok_or_else(|| EsError::parsing("[ids] values must be an array"))?
                            .iter()
                            .map(|x| {
                                x.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| x.to_string())
                            })
                            .collect()
                    }
                    "boost" => boost = boost_of(v, "ids")?,
                    "_name" => {}
                    other => return Err(unknown_field("ids", other)),
                }
            }
            Ok(Query::Ids { values, boost })
        }
        "bool" => parse_bool(body),
        "match" => full_text::parse_match(body),
        "match_phrase" => full_text::parse_match_phrase(body, false),
        "match_phrase_prefix" => full_text::parse_match_phrase(body, true),
        "match_bool_prefix" => full_text::parse_match_bool_prefix(body),
        "multi_match" => full_text::parse_multi_match(body),
        "prefix" => term_level::parse_prefix(body),
        "wildcard" => term_level::parse_wildcard(body),
        "regexp" => term_level::parse_regexp(body),
        "fuzzy" => term_level::parse_fuzzy(body),
        "constant_score" => compound::parse_constant_score(body),
        "boosting" => compound::parse_boosting(body),
        "dis_max" => compound::parse_dis_max(body),
        "nested" => compound::parse_nested(body),
        "geo_bounding_box" => geo::parse_geo_bounding_box(body),
        "geo_distance" => geo::parse_geo_distance(body),
        "query_string" => query_string::parse_query_string(body),
        "simple_query_string" => query_string::parse_simple_query_string(body),
        other if KNOWN_UNSUPPORTED.contains(&other) => Err(unsupported_query(other)),
        other => Err(
            EsError::parsing(format!("unknown query [{other}]")).caused_by(EsError::new(
                400,
                "named_object_not_found_exception",
                format!("[1:{}] unknown field [{other}]", other.len() + 3),
            )),
        ),
    }
}

fn parse_term(body: &Value) -> Result<Query, EsError> {
    let o = body.as_object().ok_or_else(|| {
        EsError::parsing("[term] query malformed, no start_object after query name")
    })?;
    let (field, spec) = single_field("term", o)?;
    let mut boost = 1.0;
    let mut case_insensitive = false;
    let value = match spec {
        Value::Object(m) => {
            let mut value = None;
            for (k, v) in m {
                match k.as_str() {
                    "value" => value = Some(v.clone()),
                    "boost" => boost = boost_of(v, "term")?,
                    "case_insensitive" => case_insensitive = v.as_bool().unwrap_or(false),
                    "_name" => {}
                    other => {
                        return Err(EsError::parsing(format!(
                            "[term] query does not support [{other}]"
                        )));
                    }
                }
            }
            value.ok_or_else(|| EsError::illegal_argument("value cannot be null"))?
        }
        Value::Array(_) => {
            return Err(EsError::parsing(
                "[term] query does not support array of values",
            ));
        }
        Value::Null => return Err(EsError::illegal_argument("value cannot be null")),
        v => v.clone(),
    };
    Ok(Query::Term {
        field: field.clone(),
        value,
        case_insensitive,
        boost,
    })
}

fn parse_terms(body: &Value) -> Result<Query, EsError> {
    let o = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[terms] query malformed"))?;
    let mut boost = 1.0;
    let mut target = None;
    for (k, v) in o {
        match k.as_str() {
            "boost" => boost = boost_of(v, "terms")?,
            "_name" => {}
            _ => {
                if target.is_some() {
                    return Err(EsError::parsing(format!(
                        "[terms] query does not support multiple fields, found [{}] and [{k}]",
                        target
                            .map(|(f, _): (&String, &Value)| f.clone())
                            .unwrap_or_default()
                    )));
                }
                target = Some((k, v));
            }
        }
    }
    let (field, spec) = target.ok_or_else(|| EsError::parsing("[terms] query requires a field"))?;
    let values = match spec {
        Value::Array(a) => a.clone(),
        Value::Object(_) => {
            return Err(EsError::unsupported(
                "terms lookup (terms query with index/id/path)",
            ));
        }
        _ => {
            return Err(EsError::parsing(format!(
                "[terms] query does not support [{field}]"
            )));
        }
    };
    Ok(Query::Terms {
        field: field.clone(),
        values,
        boost,
    })
}

fn parse_range(body: &Value) -> Result<Query, EsError> {
    let o = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[range] query malformed"))?;
    let (field, spec) = single_field("range", o)?;
    let Value::Object(m) = spec else {
        return Err(EsError::parsing(format!(
            "[range] query malformed, after field [{field}] expected an object"
        )));
    };
    let mut r = Range {
        field: field.clone(),
        boost: 1.0,
        ..Default::default()
    };
    for (k, v) in m {
        let val = || if v.is_null() { None } else { Some(v.clone()) };
        match k.as_str() {
            "gt" => r.gt = val(),
            "gte" => r.gte = val(),
            "lt" => r.lt = val(),
            "lte" => r.lte = val(),
            // Deprecated forms still accepted by Elasticsearch 8.
            "from" => r.gte = val(),
            "to" => r.lte = val(),
            "format" => r.format = v.as_str().map(str::to_string),
            "time_zone" => r.time_zone = v.as_str().map(str::to_string),
            "boost" => r.boost = boost_of(v, "range")?,
            "relation" => {
                if v.as_str()
                    .is_some_and(|s| !s.eq_ignore_ascii_case("intersects"))
                {
                    return Err(EsError::unsupported(
                        "range query [relation] other than intersects",
                    ));
                }
            }
            "_name" => {}
            other => {
                return Err(EsError::parsing(format!(
                    "[range] query does not support [{other}]"
                )));
            }
        }
    }
    Ok(Query::Range(Box::new(r)))
}

pub(crate) fn clauses(v: &Value) -> Result<Vec<Query>, EsError> {
    match v {
        Value::Array(a) => a.iter().map(parse_query).collect(),
        Value::Object(_) => Ok(vec![parse_query(v)?]),
        _ => Err(EsError::parsing(
            "[bool] query malformed, clauses must be objects or arrays",
        )),
    }
}

fn parse_bool(body: &Value) -> Result<Query, EsError> {
    let o = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[bool] query malformed"))?;
    let mut b = Bool {
        boost: 1.0,
        ..Default::default()
    };
    for (k, v) in o {
        match k.as_str() {
            "must" => b.must = clauses(v)?,
            "filter" => b.filter = clauses(v)?,
            "should" => b.should = clauses(v)?,
            "must_not" | "mustNot" => b.must_not = clauses(v)?,
            "minimum_should_match" => b.minimum_should_match = Some(MinimumShouldMatch::parse(v)?),
            "boost" => b.boost = boost_of(v, "bool")?,
            "adjust_pure_negative" | "_name" => {}
            other => {
                return Err(EsError::parsing(format!(
                    "[bool] query does not support [{other}]"
                )));
            }
        }
    }
    Ok(Query::Bool(Box::new(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn term_short_and_long_forms() {
        // TermQueryBuilder#fromXContent accepts {"f": v} and {"f": {"value": v, "boost": b}}.
        assert_eq!(
            parse_query(&json!({"term": {"status": "ok"}})).unwrap(),
            Query::Term {
                field: "status".into(),
                value: json!("ok"),
                case_insensitive: false,
                boost: 1.0
            }
        );
        let q = parse_query(&json!({"term": {"status": {"value": 5, "boost": 2}}})).unwrap();
        assert!(matches!(q, Query::Term { boost, .. } if boost == 2.0));
    }

    #[test]
    fn unknown_and_unsupported_queries_are_errors() {
        let e = parse_query(&json!({"foo": {}})).unwrap_err();
        assert_eq!(e.kind, "parsing_exception");
        assert_eq!(e.reason, "unknown query [foo]");
        let e = parse_query(&json!({"script_score": {}})).unwrap_err();
        assert_eq!(e.unsupported_feature(), Some("query [script_score]"));
        let e = parse_query(&json!({"term": {"a": 1, "b": 2}})).unwrap_err();
        assert!(e.reason.contains("doesn't support multiple fields"));
        let e = parse_query(&json!({"bool": {"musts": []}})).unwrap_err();
        assert_eq!(e.reason, "[bool] query does not support [musts]");
    }

    #[test]
    fn minimum_should_match_forms() {
        // query-dsl-minimum-should-match.html: integer, negative, percentage, combinations.
        let m = |v: Value, n| MinimumShouldMatch::parse(&v).unwrap().required(n);
        assert_eq!(m(json!(2), 3), 2);
        assert_eq!(m(json!("-1"), 4), 3);
        assert_eq!(m(json!("75%"), 4), 3);
        assert_eq!(m(json!("-25%"), 4), 3);
        assert_eq!(m(json!("75%"), 3), 2); // 2.25 rounds down
        assert_eq!(m(json!("-25%"), 3), 3); // -0.75 → 0 removed
        assert_eq!(m(json!("3<90%"), 3), 3);
        assert_eq!(m(json!("3<90%"), 5), 4);
        assert_eq!(m(json!("2<-25% 9<-3"), 10), 7);
        assert_eq!(m(json!(5), 3), 5); // never lowered: matches nothing
    }
}
