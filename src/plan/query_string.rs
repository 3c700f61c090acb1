//! Lucene syntax queries → the query they mean for one index, then SQL.
//!
//! A parsed query string (`dsl::query_string::lucene` / `simple`) is turned into the queries
//! Elasticsearch builds for it (`QueryStringQueryParser`, `SimpleQueryStringQueryParser`), using this
//! index's mapping to expand field patterns (`resource.*`, `*`, `fields: ["msg*"]`) and to pick the
//! per-type meaning of a term: analysed tokens on `text`, the exact value on `keyword`, a parsed
//! value on numbers, dates, booleans and ips. The result is planned with `plan::filter`/`plan::score`.
//!
//! The result is mostly the crate's `dsl::Query` (term, range, exists, bool, match_all/none). Three
//! kinds are not expressible as `dsl::Query` on this branch yet, so `Built` carries them itself:
//! - `dis_max` (multi-field terms): `Built::DisMax`, until `dsl::compound::DisMax` has its fields;
//! - wildcard / prefix / regexp / fuzzy: `Built::MultiTerm`, until `dsl::term_level` has them;
//! - bool queries containing either of these: `Built::Bool` (all-DSL bools become `Query::Bool`).
//!
//! Quoted phrases on `text` fields are `match_phrase` queries (positions, `~N` slop or
//! `phrase_slop`).

use super::fields::{self, EsKind, Field};
use super::{Ctx, any_token, any_value, keyword_pred, never};
use crate::dsl::query_string::lucene::{self, Leaf, LeafKind, Node, Occur, Operator};
use crate::dsl::query_string::simple::{self, SNode};
use crate::dsl::query_string::{MultiType, QueryString, SimpleQueryString};
use crate::dsl::{Bool, MinimumShouldMatch, Query, Range};
use crate::error::EsError;
use crate::sql::expr::BalancedSum;
use crate::sql::{self, Expr};
use serde_json::Value;

pub fn filter_query_string(ctx: &Ctx, q: &QueryString) -> Result<Expr, EsError> {
    plan_filter(ctx, &build_query_string(ctx, q)?)
}

pub fn score_query_string(ctx: &Ctx, q: &QueryString) -> Result<Expr, EsError> {
    plan_score(ctx, &build_query_string(ctx, q)?)
}

pub fn filter_simple_query_string(ctx: &Ctx, q: &SimpleQueryString) -> Result<Expr, EsError> {
    plan_filter(ctx, &build_simple_query_string(ctx, q)?)
}

pub fn score_simple_query_string(ctx: &Ctx, q: &SimpleQueryString) -> Result<Expr, EsError> {
    plan_score(ctx, &build_simple_query_string(ctx, q)?)
}

/// A query built from a query string (see the module docs for the non-DSL variants).
#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    Dsl(Query),
    Bool(Box<BuiltBool>),
    DisMax {
        queries: Vec<Built>,
        tie_breaker: f64,
        boost: f64,
    },
    MultiTerm(Box<MultiTerm>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuiltBool {
    pub must: Vec<Built>,
    pub should: Vec<Built>,
    pub must_not: Vec<Built>,
    pub filter: Vec<Built>,
    pub minimum_should_match: Option<MinimumShouldMatch>,
    pub boost: f64,
}

/// A term-level query that expands to many terms, on one concrete field.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTerm {
    pub field: String,
    pub kind: MultiTermKind,
    pub boost: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MultiTermKind {
    /// Lucene wildcard syntax: `*`, `?`, `\` escapes.
    Wildcard(String),
    Prefix(String),
    /// Lucene regular expression syntax.
    Regexp(String),
    Fuzzy {
        term: String,
        edits: u32,
        prefix_length: usize,
        transpositions: bool,
    },
}

// ---------------------------------------------------------------------------------------------
// Constructors

fn dsl_bool(b: BuiltBool) -> Built {
    let all_dsl = b
        .must
        .iter()
        .chain(&b.should)
        .chain(&b.must_not)
        .chain(&b.filter)
        .all(|x| matches!(x, Built::Dsl(_)));
    if !all_dsl {
        return Built::Bool(Box::new(b));
    }
    let un = |v: Vec<Built>| -> Vec<Query> {
        v.into_iter()
            .filter_map(|x| match x {
                Built::Dsl(q) => Some(q),
                _ => None,
            })
            .collect()
    };
    Built::Dsl(Query::Bool(Box::new(Bool {
        must: un(b.must),
        filter: un(b.filter),
        should: un(b.should),
        must_not: un(b.must_not),
        minimum_should_match: b.minimum_should_match,
        boost: b.boost,
    })))
}

fn new_bool() -> BuiltBool {
    BuiltBool {
        boost: 1.0,
        ..Default::default()
    }
}

fn match_none() -> Built {
    Built::Dsl(Query::MatchNone)
}

fn match_all() -> Built {
    Built::Dsl(Query::MatchAll { boost: 1.0 })
}

fn term(field: &str, value: &str) -> Built {
    Built::Dsl(Query::Term {
        field: field.to_string(),
        value: Value::String(value.to_string()),
        case_insensitive: false,
        boost: 1.0,
    })
}

/// Multiplies the boost of a query.
fn boosted(b: Built, by: f64) -> Built {
    if by == 1.0 {
        return b;
    }
    match b {
        Built::Dsl(q) => Built::Dsl(match q {
            Query::Term {
                field,
                value,
                case_insensitive,
                boost,
            } => Query::Term {
                field,
                value,
                case_insensitive,
                boost: boost * by,
            },
            Query::Terms {
                field,
                values,
                boost,
            } => Query::Terms {
                field,
                values,
                boost: boost * by,
            },
            Query::Exists { field, boost } => Query::Exists {
                field,
                boost: boost * by,
            },
            Query::MatchAll { boost } => Query::MatchAll { boost: boost * by },
            Query::Range(mut r) => {
                r.boost *= by;
                Query::Range(r)
            }
            Query::Bool(mut bq) => {
                bq.boost *= by;
                Query::Bool(bq)
            }
            Query::MatchPhrase(mut p) => {
                p.boost *= by;
                Query::MatchPhrase(p)
            }
            // Every query kind built here is handled above; a new one must not lose its boost.
            other => Query::Bool(Box::new(Bool {
                must: vec![other],
                boost: by,
                ..Default::default()
            })),
        }),
        Built::Bool(mut bb) => {
            bb.boost *= by;
            Built::Bool(bb)
        }
        Built::DisMax {
            queries,
            tie_breaker,
            boost,
        } => Built::DisMax {
            queries,
            tie_breaker,
            boost: boost * by,
        },
        Built::MultiTerm(mut m) => {
            m.boost *= by;
            Built::MultiTerm(m)
        }
    }
}

/// Sets `minimum_should_match` on a top-level bool when it asks for at least one clause
/// (`Queries#maybeApplyMinimumShouldMatch`).
fn with_msm(b: Built, msm: &Option<MinimumShouldMatch>) -> Built {
    let Some(m) = msm else { return b };
    match b {
        Built::Dsl(Query::Bool(mut bq)) => {
            if m.required(bq.should.len()) > 0 {
                bq.minimum_should_match = Some(m.clone());
            }
            Built::Dsl(Query::Bool(bq))
        }
        Built::Bool(mut bb) => {
            if m.required(bb.should.len()) > 0 {
                bb.minimum_should_match = Some(m.clone());
            }
            Built::Bool(bb)
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Analysis

/// Tokens of a query text on a `text` field: the same split as `plan::text_tokens` applies to
/// documents (ClickHouse `splitByNonAlpha(lowerUTF8(x))`: ASCII whitespace and punctuation separate
/// tokens), so query tokens and indexed tokens agree.
pub(crate) fn analyze(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| c.is_ascii_punctuation() || c.is_ascii_whitespace() || c == '\u{b}')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The normalizer of the standard analyzer: lower-casing (for wildcard/prefix/fuzzy/range on text).
fn normalize(f: &Field, s: &str) -> String {
    if f.kind == EsKind::Text {
        s.to_lowercase()
    } else {
        s.to_string()
    }
}

/// `*` matches any run of characters (Elasticsearch's `Regex#simpleMatch`).
/// `indices.query.bool.max_clause_count` on a query string before it is built: each term becomes
/// one query per field it searches (QueryStringQueryParser / SimpleQueryStringQueryParser), and
/// Lucene's IndexSearcher counts them all. Checked first, so that a query string of tens of
/// thousands of terms costs nothing to refuse.
fn check_clauses(on_default: usize, fields: usize, named: usize) -> Result<(), EsError> {
    let max = crate::limits::MAX_CLAUSE_COUNT;
    if on_default
        .saturating_mul(fields.max(1))
        .saturating_add(named) as u64
        > max
    {
        return Err(crate::dsl::too_many_clauses(max));
    }
    Ok(())
}

fn glob_match(pattern: &str, s: &str) -> bool {
    crate::glob::star(pattern, s)
}

/// Field types a field pattern expands to: those with a term query (not geo, not objects).
fn searchable_kind(k: EsKind) -> bool {
    !matches!(k, EsKind::GeoPoint | EsKind::Flattened)
}

fn is_string_kind(k: EsKind) -> bool {
    matches!(
        k,
        EsKind::Keyword | EsKind::Wildcard | EsKind::ConstantKeyword | EsKind::Other
    )
}

// ---------------------------------------------------------------------------------------------
// Building

/// The query parser's settings for one query on one index.
struct Builder<'a> {
    ctx: &'a Ctx<'a>,
    query_text: &'a str,
    /// The parser's own field (`default_field`, or `*` for all fields); `None` when `fields` is given.
    default_field: Option<String>,
    /// The fields (with boosts) terms without a field go to.
    default_fields: Vec<(String, f64)>,
    lenient: bool,
    operator: Operator,
    multi_type: MultiType,
    tie_breaker: f64,
    allow_leading_wildcard: bool,
    time_zone: Option<String>,
    fuzziness: String,
    fuzzy_prefix_length: usize,
    fuzzy_transpositions: bool,
    quote_field_suffix: Option<String>,
    force_standard: bool,
    /// `phrase_slop`: the slop of phrases written without `~N`.
    phrase_slop: usize,
}

/// `query_string` → the query it means on this index.
pub fn build_query_string(ctx: &Ctx, q: &QueryString) -> Result<Built, EsError> {
    let text = if q.escape {
        lucene::escape(&q.query)
    } else {
        q.query.clone()
    };
    let mut b = Builder {
        ctx,
        query_text: &q.query,
        default_field: None,
        default_fields: Vec::new(),
        lenient: q.lenient.unwrap_or(false),
        operator: q.default_operator,
        multi_type: q.multi_type,
        tie_breaker: q.tie_breaker.unwrap_or(q.multi_type.tie_breaker()),
        allow_leading_wildcard: q.allow_leading_wildcard,
        time_zone: q.time_zone.clone(),
        fuzziness: q.fuzziness.clone(),
        fuzzy_prefix_length: q.fuzzy_prefix_length,
        fuzzy_transpositions: q.fuzzy_transpositions,
        quote_field_suffix: q.quote_field_suffix.clone(),
        force_standard: q.force_standard_analyzer,
        phrase_slop: q.phrase_slop as usize,
    };
    // QueryStringQueryBuilder#doToQuery: which fields, and lenient by default when all fields are
    // searched (values of the wrong type for some field are then simply not matched there).
    match (&q.default_field, &q.fields) {
        (Some(df), _) => {
            b.default_field = Some(df.clone());
            if df == "*" {
                b.default_fields = b.resolve_fields(&[("*".to_string(), 1.0)]);
                b.lenient = q.lenient.unwrap_or(true);
            }
        }
        (None, Some(fs)) if !fs.is_empty() => {
            b.default_fields = b.resolve_fields(fs);
            if fs.iter().any(|(f, _)| f == "*") {
                b.lenient = q.lenient.unwrap_or(true);
            }
        }
        _ => {
            // index.query.default_field defaults to `*`.
            b.default_field = Some("*".to_string());
            b.default_fields = b.resolve_fields(&[("*".to_string(), 1.0)]);
            b.lenient = q.lenient.unwrap_or(true);
        }
    }
    let parsed = lucene::parse(&text, q.default_operator)
        .map_err(|e| lucene::parse_failure(&q.query, &e.message, e.lexical))?;
    let Some(node) = parsed else {
        // A blank query matches nothing.
        return Ok(match_none());
    };
    let (on_default, named) = node.leaf_count();
    check_clauses(on_default, b.default_fields.len(), named)?;
    let built = b.node(&node)?.unwrap_or_else(match_none);
    let built = fix_negative(built);
    let built = with_msm(built, &q.minimum_should_match);
    Ok(boosted(built, q.boost))
}

/// A bool with only prohibited clauses gets a match-all filter (`Queries#fixNegativeQueryIfNeeded`).
fn fix_negative(b: Built) -> Built {
    match b {
        Built::Dsl(Query::Bool(mut bq))
            if bq.must.is_empty()
                && bq.should.is_empty()
                && bq.filter.is_empty()
                && !bq.must_not.is_empty() =>
        {
            bq.filter.push(Query::MatchAll { boost: 1.0 });
            Built::Dsl(Query::Bool(bq))
        }
        Built::Bool(mut bb)
            if bb.must.is_empty()
                && bb.should.is_empty()
                && bb.filter.is_empty()
                && !bb.must_not.is_empty() =>
        {
            bb.filter.push(match_all());
            Built::Bool(bb)
        }
        other => other,
    }
}

impl Builder<'_> {
    fn parse_error(&self, msg: &str) -> EsError {
        lucene::parse_failure(self.query_text, msg, false)
    }

    /// Every mapped leaf field matching a pattern, of a type a term can search.
    fn expand(&self, pattern: &str) -> Vec<String> {
        self.ctx
            .meta
            .mappings
            .leaf_fields()
            .into_iter()
            .filter(|f| glob_match(pattern, &f.path))
            .filter_map(|f| fields::resolve(self.ctx.meta, &f.path))
            .filter(|f| searchable_kind(f.kind))
            .map(|f| f.path)
            .collect()
    }

    /// `QueryParserHelper#resolveMappingFields`: patterns expanded, names kept as given.
    fn resolve_fields(&self, list: &[(String, f64)]) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Vec::new();
        for (name, boost) in list {
            let names = if name.contains('*') {
                self.expand(name)
            } else {
                vec![name.clone()]
            };
            for n in names {
                match out.iter_mut().find(|(x, _)| *x == n) {
                    Some(e) => e.1 *= boost,
                    None => out.push((n, *boost)),
                }
            }
        }
        out
    }

    fn with_suffix(&self, fields: Vec<(String, f64)>, quoted: bool) -> Vec<(String, f64)> {
        let Some(sfx) = self.quote_field_suffix.as_deref().filter(|_| quoted) else {
            return fields;
        };
        fields
            .into_iter()
            .map(|(f, b)| {
                let with = format!("{f}{sfx}");
                if fields::is_mapped(self.ctx.meta, &with) {
                    (with, b)
                } else {
                    (f, b)
                }
            })
            .collect()
    }

    /// The fields a leaf searches (`QueryStringQueryParser#extractMultiFields`).
    fn fields_for(&self, field: Option<&str>, quoted: bool) -> Vec<(String, f64)> {
        let fields = match field.or(self.default_field.as_deref()) {
            Some("*") if self.default_field.as_deref() == Some("*") => self.default_fields.clone(),
            Some(f) if f.contains('*') => self.expand(f).into_iter().map(|f| (f, 1.0)).collect(),
            Some(f) => vec![(f.to_string(), 1.0)],
            None => self.default_fields.clone(),
        };
        self.with_suffix(fields, quoted)
    }

    /// Combines the per-field queries of one leaf.
    fn combine(&self, parts: Vec<Built>, text: bool) -> Option<Built> {
        if parts.len() <= 1 {
            return parts.into_iter().next();
        }
        if text && self.multi_type == MultiType::MostFields {
            let mut b = new_bool();
            b.should = parts;
            return Some(dsl_bool(b));
        }
        Some(Built::DisMax {
            queries: parts,
            tie_breaker: self.tie_breaker,
            boost: 1.0,
        })
    }

    /// A failure of one field's query: no match when lenient, the error otherwise.
    fn lenient_or(&self, e: EsError) -> Result<Option<Built>, EsError> {
        if self.lenient {
            Ok(Some(match_none()))
        } else {
            Err(e)
        }
    }

    fn node(&self, n: &Node) -> Result<Option<Built>, EsError> {
        match n {
            Node::Leaf(l) => {
                let b = self.leaf(l)?;
                Ok(b.map(|b| boosted(b, l.boost.unwrap_or(1.0))))
            }
            Node::Boosted(inner, by) => Ok(self.node(inner)?.map(|b| boosted(b, *by))),
            Node::Group(clauses) => {
                let mut b = new_bool();
                for c in clauses {
                    let Some(q) = self.node(&c.node)? else {
                        continue;
                    };
                    if c.multi_term
                        && let Some((must, should)) = flat_terms(&q)
                    {
                        // A run of bare terms analysed into plain terms: its clauses join this group.
                        b.must.extend(must);
                        b.should.extend(should);
                        continue;
                    }
                    match c.occur {
                        Occur::Must => b.must.push(q),
                        Occur::Should => b.should.push(q),
                        Occur::MustNot => b.must_not.push(q),
                    }
                }
                if b.must.is_empty() && b.should.is_empty() && b.must_not.is_empty() {
                    return Ok(None);
                }
                Ok(Some(fix_negative(dsl_bool(b))))
            }
        }
    }

    fn leaf(&self, l: &Leaf) -> Result<Option<Built>, EsError> {
        let field = l.field.as_deref();
        match &l.kind {
            LeafKind::Text(t) => self.text(field, t),
            LeafKind::Phrase { text, slop } => {
                let slop = slop
                    .as_deref()
                    .and_then(|s| s.parse::<f64>().ok())
                    .map(|s| s as usize);
                self.phrase(field, text, slop.unwrap_or(self.phrase_slop))
            }
            LeafKind::Wildcard(p) => self.wildcard(field, p),
            LeafKind::Prefix(p) => self.per_field(field, |f| self.prefix_single(f, p), false),
            LeafKind::Regexp(r) => self.per_field(field, |f| self.regexp_single(f, r), false),
            LeafKind::Fuzzy { term, distance } => self.fuzzy(field, term, distance),
            LeafKind::Range {
                lower,
                upper,
                include_lower,
                include_upper,
            } => self.range(
                field,
                lower.as_deref(),
                upper.as_deref(),
                *include_lower,
                *include_upper,
            ),
        }
    }

    /// Runs `single` on each field of a leaf, boosts by field weight, combines.
    fn per_field(
        &self,
        field: Option<&str>,
        single: impl Fn(&str) -> Result<Option<Built>, EsError>,
        text: bool,
    ) -> Result<Option<Built>, EsError> {
        let fields = self.fields_for(field, false);
        if fields.is_empty() {
            // A pattern that matches no field: nothing matches.
            return Ok(Some(match_none()));
        }
        let mut parts = Vec::new();
        for (name, weight) in fields {
            if let Some(b) = single(&name)? {
                parts.push(boosted(b, weight));
            }
        }
        Ok(self.combine(parts, text))
    }

    /// A bare term (`getFieldQuery`, not quoted).
    fn text(&self, field: Option<&str>, text: &str) -> Result<Option<Built>, EsError> {
        if field == Some("_exists_") {
            return Ok(Some(self.exists(text)));
        }
        // `>=10`, `<x`: one-sided ranges, when a field (or the parser's own field) is known.
        if let Some(f) = field.or(self.default_field.as_deref())
            && text.chars().count() > 1
        {
            let rest1: String = text.chars().skip(1).collect();
            let rest2: String = text.chars().skip(2).collect();
            let second = text.chars().nth(1);
            let long = text.chars().count() > 2;
            if let Some(first) = text.chars().next()
                && (first == '>' || first == '<')
            {
                let fo = Some(f);
                return if first == '>' {
                    if long && second == Some('=') {
                        self.range(fo, Some(&rest2), None, true, true)
                    } else {
                        self.range(fo, Some(&rest1), None, false, true)
                    }
                } else if long && second == Some('=') {
                    self.range(fo, None, Some(&rest2), true, true)
                } else {
                    self.range(fo, None, Some(&rest1), true, false)
                };
            }
            // A date field with a time zone: a range covering the (rounded) date.
            if self.time_zone.is_some()
                && let Some(df) = fields::resolve(self.ctx.meta, f)
                && matches!(df.kind, EsKind::Date | EsKind::DateNanos)
            {
                return self.range(Some(f), Some(text), Some(text), true, true);
            }
        }
        self.per_field(field, |f| self.text_single(f, text, None), true)
    }

    /// The match-like query of a text on one field.
    /// `phrase`: the slop when `text` is a quoted phrase.
    fn text_single(
        &self,
        name: &str,
        text: &str,
        phrase: Option<usize>,
    ) -> Result<Option<Built>, EsError> {
        let Some(f) = fields::resolve(self.ctx.meta, name) else {
            return Ok(Some(match_none()));
        };
        if f.kind == EsKind::Text || (self.force_standard && is_string_kind(f.kind)) {
            let tokens = analyze(text);
            return Ok(match tokens.len() {
                0 => None,
                1 => Some(term(name, &tokens[0])),
                _ => {
                    if let Some(slop) = phrase {
                        // A quoted phrase: tokens at consecutive positions (within `slop`).
                        return Ok(Some(Built::Dsl(Query::MatchPhrase(Box::new(
                            crate::dsl::full_text::MatchPhrase {
                                field: name.to_string(),
                                query: Value::String(text.to_string()),
                                slop,
                                prefix: false,
                                max_expansions: 50,
                                zero_terms_query: Default::default(),
                                boost: 1.0,
                            },
                        )))));
                    }
                    let mut b = new_bool();
                    let ts = tokens.iter().map(|t| term(name, t)).collect();
                    if self.operator == Operator::And {
                        b.must = ts;
                    } else {
                        b.should = ts;
                    }
                    Some(dsl_bool(b))
                }
            });
        }
        if is_string_kind(f.kind) {
            return Ok(Some(term(name, text)));
        }
        // Numbers, dates, booleans, ips: the value must parse for this field type.
        let v = Value::String(text.to_string());
        match super::term_pred(self.ctx, &f, &v, false) {
            Ok(_) => Ok(Some(term(name, text))),
            Err(e) => self.lenient_or(e),
        }
    }

    fn phrase(
        &self,
        field: Option<&str>,
        text: &str,
        slop: usize,
    ) -> Result<Option<Built>, EsError> {
        if field == Some("_exists_") {
            return Ok(Some(self.exists(text)));
        }
        let fields = self.fields_for(field, true);
        if fields.is_empty() {
            return Ok(Some(match_none()));
        }
        let mut parts = Vec::new();
        for (name, weight) in fields {
            if let Some(b) = self.text_single(&name, text, Some(slop))? {
                parts.push(boosted(b, weight));
            }
        }
        Ok(self.combine(parts, true))
    }

    /// `_exists_:field` (a pattern or object path works too).
    fn exists(&self, field: &str) -> Built {
        if field.contains('*') {
            let mut b = new_bool();
            b.should = self
                .ctx
                .meta
                .mappings
                .leaf_fields()
                .into_iter()
                .filter(|f| glob_match(field, &f.path))
                .map(|f| {
                    Built::Dsl(Query::Exists {
                        field: f.path,
                        boost: 1.0,
                    })
                })
                .collect();
            if b.should.is_empty() {
                return match_none();
            }
            return dsl_bool(b);
        }
        Built::Dsl(Query::Exists {
            field: field.to_string(),
            boost: 1.0,
        })
    }

    fn wildcard(&self, field: Option<&str>, pattern: &str) -> Result<Option<Built>, EsError> {
        if pattern == "*" {
            // `*` alone: everything on all fields, otherwise "the field exists".
            if let Some(f) = field.or(self.default_field.as_deref()) {
                return Ok(Some(if f == "*" {
                    match_all()
                } else {
                    self.exists(f)
                }));
            }
        }
        self.per_field(field, |f| self.wildcard_single(f, pattern), false)
    }

    fn wildcard_single(&self, name: &str, pattern: &str) -> Result<Option<Built>, EsError> {
        if pattern == "*" {
            return Ok(Some(self.exists(name)));
        }
        let Some(f) = fields::resolve(self.ctx.meta, name) else {
            return Ok(Some(match_none()));
        };
        if !self.allow_leading_wildcard && (pattern.starts_with('*') || pattern.starts_with('?')) {
            return Err(
                self.parse_error("'*' or '?' not allowed as first character in WildcardQuery")
            );
        }
        if f.kind != EsKind::Text && !is_string_kind(f.kind) {
            return self.lenient_or(wrong_type("wildcard", "keyword, text and wildcard", &f));
        }
        Ok(Some(multi_term(
            name,
            MultiTermKind::Wildcard(normalize(&f, pattern)),
        )))
    }

    fn prefix_single(&self, name: &str, prefix: &str) -> Result<Option<Built>, EsError> {
        let Some(f) = fields::resolve(self.ctx.meta, name) else {
            return Ok(Some(match_none()));
        };
        if f.kind != EsKind::Text && !is_string_kind(f.kind) {
            return self.lenient_or(wrong_type("prefix", "keyword, text and wildcard", &f));
        }
        Ok(Some(multi_term(
            name,
            MultiTermKind::Prefix(normalize(&f, prefix)),
        )))
    }

    fn regexp_single(&self, name: &str, re: &str) -> Result<Option<Built>, EsError> {
        let Some(f) = fields::resolve(self.ctx.meta, name) else {
            return Ok(Some(match_none()));
        };
        if f.kind != EsKind::Text && !is_string_kind(f.kind) {
            return self.lenient_or(wrong_type("regexp", "keyword and text", &f));
        }
        if let Err(e) = lucene_regexp_to_re2(re) {
            return self.lenient_or(e);
        }
        Ok(Some(multi_term(
            name,
            MultiTermKind::Regexp(re.to_string()),
        )))
    }

    /// `term~` / `term~N` (`handleBareFuzzy` with Elasticsearch's `getFuzzyDistance`).
    fn fuzzy(
        &self,
        field: Option<&str>,
        term_text: &str,
        distance: &str,
    ) -> Result<Option<Built>, EsError> {
        let spec = if distance.is_empty() {
            self.fuzziness.as_str()
        } else {
            distance
        };
        let edits = fuzzy_edits(spec, term_text)?;
        self.per_field(
            field,
            |name| {
                let Some(f) = fields::resolve(self.ctx.meta, name) else {
                    return Ok(Some(match_none()));
                };
                if f.kind != EsKind::Text && !is_string_kind(f.kind) {
                    return self.lenient_or(wrong_type("fuzzy", "keyword and text", &f));
                }
                let t = normalize(&f, term_text);
                if edits == 0 {
                    return Ok(Some(term(name, &t)));
                }
                Ok(Some(multi_term(
                    name,
                    MultiTermKind::Fuzzy {
                        term: t,
                        edits,
                        prefix_length: self.fuzzy_prefix_length,
                        transpositions: self.fuzzy_transpositions,
                    },
                )))
            },
            false,
        )
    }

    fn range(
        &self,
        field: Option<&str>,
        lower: Option<&str>,
        upper: Option<&str>,
        include_lower: bool,
        include_upper: bool,
    ) -> Result<Option<Built>, EsError> {
        let lower = lower.filter(|s| *s != "*");
        let upper = upper.filter(|s| *s != "*");
        self.per_field(
            field,
            |name| {
                let Some(f) = fields::resolve(self.ctx.meta, name) else {
                    return Ok(Some(match_none()));
                };
                let v = |s: &str| Some(Value::String(normalize(&f, s)));
                let mut r = Range {
                    field: name.to_string(),
                    time_zone: self.time_zone.clone(),
                    boost: 1.0,
                    ..Default::default()
                };
                if let Some(lo) = lower {
                    if include_lower {
                        r.gte = v(lo);
                    } else {
                        r.gt = v(lo);
                    }
                }
                if let Some(hi) = upper {
                    if include_upper {
                        r.lte = v(hi);
                    } else {
                        r.lt = v(hi);
                    }
                }
                match super::range_pred(self.ctx, &f, &r) {
                    Ok(_) => Ok(Some(Built::Dsl(Query::Range(Box::new(r))))),
                    Err(e) => self.lenient_or(e),
                }
            },
            false,
        )
    }
}

/// The plain-term clauses of an analysed run of bare terms, if that is all it is.
fn flat_terms(q: &Built) -> Option<(Vec<Built>, Vec<Built>)> {
    let Built::Dsl(Query::Bool(b)) = q else {
        return None;
    };
    let plain = b.boost == 1.0
        && b.minimum_should_match.is_none()
        && b.filter.is_empty()
        && b.must_not.is_empty()
        && b.must
            .iter()
            .chain(&b.should)
            .all(|c| matches!(c, Query::Term { .. }));
    if !plain {
        return None;
    }
    let wrap = |v: &Vec<Query>| v.iter().cloned().map(Built::Dsl).collect::<Vec<_>>();
    Some((wrap(&b.must), wrap(&b.should)))
}

fn multi_term(field: &str, kind: MultiTermKind) -> Built {
    Built::MultiTerm(Box::new(MultiTerm {
        field: field.to_string(),
        kind,
        boost: 1.0,
    }))
}

fn wrong_type(query: &str, allowed: &str, f: &Field) -> EsError {
    EsError::new(
        400,
        "query_shard_exception",
        format!(
            "Can only use {query} queries on {allowed} fields - not on [{}] which is of type [{}]",
            f.path, f.es_type
        ),
    )
}

/// Edit distance of a fuzzy term: `AUTO` (0 below 3 chars, 1 up to 5, else 2), `AUTO:low,high`,
/// or a number (at most 2) — `Fuzziness#asDistance`.
fn fuzzy_edits(spec: &str, term: &str) -> Result<u32, EsError> {
    let len = term.chars().count();
    let up = spec.to_ascii_uppercase();
    let auto = |low: usize, high: usize| {
        if len < low {
            0
        } else if len < high {
            1
        } else {
            2
        }
    };
    if up == "AUTO" {
        return Ok(auto(3, 6));
    }
    if let Some(rest) = up.strip_prefix("AUTO:")
        && let Some((a, b)) = rest.split_once(',')
        && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
    {
        return Ok(auto(a, b));
    }
    match spec.parse::<f64>() {
        Ok(f) if f >= 0.0 => Ok((f as u32).min(2)),
        _ => Err(EsError::illegal_argument(format!(
            "Invalid fuzziness value: {spec}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// simple_query_string

/// `simple_query_string` → the query it means on this index (`SimpleQueryStringBuilder#doToQuery`).
pub fn build_simple_query_string(ctx: &Ctx, q: &SimpleQueryString) -> Result<Built, EsError> {
    let mut b = Builder {
        ctx,
        query_text: &q.query,
        default_field: None,
        default_fields: Vec::new(),
        lenient: q.lenient.unwrap_or(false),
        operator: q.default_operator,
        // Text parts are combined over fields like most_fields (scores add up); the others with a
        // dis_max whose tie breaker is 1.
        multi_type: MultiType::MostFields,
        tie_breaker: 1.0,
        allow_leading_wildcard: true,
        time_zone: None,
        fuzziness: "AUTO".into(),
        fuzzy_prefix_length: q.fuzzy_prefix_length,
        fuzzy_transpositions: q.fuzzy_transpositions,
        quote_field_suffix: q.quote_field_suffix.clone(),
        force_standard: q.force_standard_analyzer,
        phrase_slop: 0,
    };
    let fields = match &q.fields {
        Some(f) if !f.is_empty() => f.clone(),
        _ => vec![("*".to_string(), 1.0)],
    };
    if fields.iter().any(|(f, _)| f == "*") {
        b.lenient = q.lenient.unwrap_or(true);
    }
    b.default_fields = b.resolve_fields(&fields);
    let occur = q.default_operator.occur();
    let node = simple::parse(&q.query, q.flags, occur).map_err(|_| {
        lucene::parse_failure(
            &q.query,
            &format!(
                "groups are nested deeper than elastichouse's limit of [{}] levels",
                simple::MAX_GROUP_DEPTH
            ),
            false,
        )
    })?;
    let Some(node) = node else {
        return Ok(match_none());
    };
    check_clauses(node.leaf_count(), b.default_fields.len(), 0)?;
    let built = b.simple(&node)?.unwrap_or_else(match_none);
    let built = with_msm(built, &q.minimum_should_match);
    Ok(boosted(built, q.boost))
}

impl Builder<'_> {
    fn simple(&self, n: &SNode) -> Result<Option<Built>, EsError> {
        Ok(match n {
            SNode::Text(t) => self.per_field(None, |f| self.text_single(f, t, None), true)?,
            SNode::Phrase(t, slop) => self.phrase(None, t, *slop as usize)?,
            SNode::Prefix(p) => self.per_field(None, |f| self.prefix_single(f, p), false)?,
            SNode::Fuzzy(t, n) => self.fuzzy(None, t, &n.to_string())?,
            SNode::Not(inner) => {
                let Some(x) = self.simple(inner)? else {
                    return Ok(None);
                };
                let mut b = new_bool();
                b.must_not.push(x);
                b.should.push(match_all());
                Some(dsl_bool(b))
            }
            SNode::Group(clauses) => {
                let mut b = new_bool();
                for (occur, c) in clauses {
                    let Some(x) = self.simple(c)? else { continue };
                    match occur {
                        Occur::Must => b.must.push(x),
                        Occur::Should => b.should.push(x),
                        Occur::MustNot => b.must_not.push(x),
                    }
                }
                if b.must.is_empty() && b.should.is_empty() && b.must_not.is_empty() {
                    return Ok(None);
                }
                Some(dsl_bool(b))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

fn plan_filter(ctx: &Ctx, b: &Built) -> Result<Expr, EsError> {
    Ok(match b {
        Built::Dsl(q) => super::filter(ctx, q)?,
        Built::Bool(bb) => {
            let mut and = Vec::new();
            for q in bb.must.iter().chain(&bb.filter) {
                and.push(plan_filter(ctx, q)?);
            }
            for q in &bb.must_not {
                and.push(plan_filter(ctx, q)?.not());
            }
            if !bb.should.is_empty() {
                let required = match &bb.minimum_should_match {
                    Some(m) => m.required(bb.should.len()),
                    None if bb.must.is_empty() && bb.filter.is_empty() => 1,
                    None => 0,
                };
                let shoulds: Vec<Expr> = bb
                    .should
                    .iter()
                    .map(|q| plan_filter(ctx, q))
                    .collect::<Result<_, _>>()?;
                and.push(super::at_least(shoulds, required));
            }
            Expr::And(and)
        }
        Built::DisMax { queries, .. } => {
            if queries.is_empty() {
                never()
            } else {
                Expr::Or(
                    queries
                        .iter()
                        .map(|q| plan_filter(ctx, q))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        Built::MultiTerm(m) => multi_term_pred(ctx, m)?,
    })
}

fn plan_score(ctx: &Ctx, b: &Built) -> Result<Expr, EsError> {
    // The score of a clause where it matches, 0 elsewhere.
    let matched = |q: &Built| -> Result<Expr, EsError> {
        Ok(Expr::func(
            "if",
            vec![plan_filter(ctx, q)?, plan_score(ctx, q)?, sql::lit(0.0)],
        ))
    };
    Ok(match b {
        Built::Dsl(q) => super::score(ctx, q)?,
        Built::Bool(bb) => {
            let mut terms = Vec::new();
            for c in &bb.must {
                terms.push(plan_score(ctx, c)?);
            }
            for c in &bb.should {
                terms.push(matched(c)?);
            }
            let sum = terms.into_iter().balanced_sum().unwrap_or(sql::lit(0.0));
            if bb.boost != 1.0 {
                sum * sql::lit(bb.boost)
            } else {
                sum
            }
        }
        Built::DisMax {
            queries,
            tie_breaker,
            boost,
        } => {
            // dis_max: the best clause's score plus tie_breaker times the others'.
            let scores: Vec<Expr> = queries.iter().map(matched).collect::<Result<_, _>>()?;
            let best = if scores.len() == 1 {
                scores[0].clone()
            } else {
                Expr::func("greatest", scores.clone())
            };
            let mut s = best.clone();
            if *tie_breaker != 0.0 && scores.len() > 1 {
                let sum = scores.into_iter().balanced_sum().expect("non-empty");
                s = best.clone() + sql::lit(*tie_breaker) * (sum - best);
            }
            if *boost != 1.0 {
                s * sql::lit(*boost)
            } else {
                s
            }
        }
        // Multi-term queries score their boost (the constant_score rewrite Elasticsearch uses).
        Built::MultiTerm(m) => sql::lit(m.boost),
    })
}

/// The predicate of a wildcard/prefix/regexp/fuzzy query on one field.
fn multi_term_pred(ctx: &Ctx, m: &MultiTerm) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(ctx.meta, &m.field) else {
        return Ok(never());
    };
    let pred: Box<dyn Fn(Expr) -> Expr> = match &m.kind {
        MultiTermKind::Wildcard(p) => {
            let re = sql::lit(wildcard_to_re2(p));
            Box::new(move |x| Expr::func("match", vec![x, re.clone()]))
        }
        MultiTermKind::Prefix(p) => {
            let p = sql::lit(p.as_str());
            Box::new(move |x| Expr::func("startsWith", vec![x, p.clone()]))
        }
        MultiTermKind::Regexp(r) => {
            let re = sql::lit(lucene_regexp_to_re2(r)?);
            Box::new(move |x| Expr::func("match", vec![x, re.clone()]))
        }
        MultiTermKind::Fuzzy {
            term,
            edits,
            prefix_length,
            transpositions,
        } => {
            let (term, prefix_length, edits, transpositions) =
                (term.clone(), *prefix_length, *edits, *transpositions);
            Box::new(move |x: Expr| {
                super::term_level::fuzzy_pred(x, &term, prefix_length, edits as u8, transpositions)
            })
        }
    };
    Ok(match f.kind {
        EsKind::Text => any_token(&f, pred),
        EsKind::Keyword => keyword_pred(&f, pred),
        EsKind::ConstantKeyword => match &f.constant_value {
            Some(v) => pred(sql::lit(v.as_str())),
            None => never(),
        },
        _ => any_value(&f, pred),
    })
}

/// A Lucene wildcard pattern as an anchored RE2 expression.
fn wildcard_to_re2(p: &str) -> String {
    let mut re = String::from("^(?s:");
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' => match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => re.push_str(r"\\"),
            },
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    re
}

/// A Lucene regular expression (always anchored, `.` matches anything) as RE2. The operators
/// Lucene has and RE2 has not (`@`, `&`, `~`, `<n-m>`, `#`, `"literal"`) are a clear 400.
fn lucene_regexp_to_re2(r: &str) -> Result<String, EsError> {
    let mut out = String::new();
    let mut chars = r.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if "dDsSwW".contains(n) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push_str(&regex::escape(&n.to_string())),
                None => {
                    return Err(EsError::illegal_argument(format!(
                        "expected character after '\\' at position {}",
                        r.chars().count()
                    )));
                }
            },
            '@' | '&' | '~' | '<' | '#' | '"' => {
                return Err(EsError::unsupported(format!(
                    "regular expression operator [{c}] (in /{r}/)"
                )));
            }
            c => out.push(c),
        }
    }
    let re = format!("^(?s:{out})$");
    regex::Regex::new(&re)
        .map_err(|e| EsError::illegal_argument(format!("invalid regular expression [{r}]: {e}")))?;
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_mirrors_the_index_tokens() {
        // plan::text_tokens: splitByNonAlpha(lowerUTF8(x)).
        assert_eq!(analyze("Quick-Brown fox_2"), ["quick", "brown", "fox", "2"]);
        assert_eq!(analyze("Éclair"), ["éclair"]);
        assert!(analyze("--").is_empty());
    }

    #[test]
    fn glob_patterns() {
        assert!(glob_match("*", "a.b"));
        assert!(glob_match("resource.*", "resource.name"));
        assert!(!glob_match("resource.*", "resources"));
        assert!(glob_match("m*g", "msg"));
        assert!(glob_match("*.keyword", "msg.keyword"));
    }

    #[test]
    fn wildcard_and_regexp_translation() {
        assert_eq!(wildcard_to_re2("win*"), "^(?s:win.*)$");
        assert_eq!(wildcard_to_re2("a?c"), "^(?s:a.c)$");
        assert_eq!(wildcard_to_re2(r"a\*b.c"), r"^(?s:a\*b\.c)$");
        assert_eq!(
            lucene_regexp_to_re2("joh?n(ath[oa]n)").unwrap(),
            "^(?s:joh?n(ath[oa]n))$"
        );
        assert_eq!(lucene_regexp_to_re2(r"a\d+").unwrap(), r"^(?s:a\d+)$");
        assert!(
            lucene_regexp_to_re2("a@")
                .unwrap_err()
                .unsupported_feature()
                .is_some()
        );
        assert_eq!(
            lucene_regexp_to_re2("a(b").unwrap_err().kind,
            "illegal_argument_exception"
        );
    }

    #[test]
    fn fuzzy_edit_distances() {
        // Fuzziness#asDistance: AUTO = AUTO:3,6; numbers capped at 2.
        assert_eq!(fuzzy_edits("AUTO", "ab").unwrap(), 0);
        assert_eq!(fuzzy_edits("AUTO", "abc").unwrap(), 1);
        assert_eq!(fuzzy_edits("AUTO", "abcdef").unwrap(), 2);
        assert_eq!(fuzzy_edits("AUTO:2,4", "ab").unwrap(), 1);
        assert_eq!(fuzzy_edits("1", "abcdef").unwrap(), 1);
        assert_eq!(fuzzy_edits("5", "abcdef").unwrap(), 2);
        assert!(fuzzy_edits("x", "a").is_err());
    }
}
