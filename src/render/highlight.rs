//! Highlighting (`highlight` in a search request), as Elasticsearch's default `unified` highlighter
//! renders it: the terms the query matched in a field's value are wrapped in `pre_tags`/`post_tags`,
//! and the value is cut into fragments on sentence boundaries (`fragment_size` characters at most,
//! `number_of_fragments` of them; 0 = the whole value).
//! The stored value is re-analysed with the same standard analyzer as at ingest, so highlighted
//! terms are exactly the tokens the query matched. Written here because it needs our analyzer and
//! query tree; UAX #29 word and sentence boundaries come from `unicode-segmentation`.
//! (docs: highlighting.html; ES: search/fetch/subphase/highlight/*)

use crate::catalog::IndexMeta;
use crate::dsl::Query;
use crate::error::EsError;
use crate::plan::fields::{self, EsKind};
use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, PartialEq)]
pub struct FieldOptions {
    pub fragment_size: usize,
    pub number_of_fragments: usize,
    pub no_match_size: usize,
    pub order_by_score: bool,
    pub pre_tags: Option<Vec<String>>,
    pub post_tags: Option<Vec<String>>,
    pub require_field_match: Option<bool>,
}

impl Default for FieldOptions {
    fn default() -> Self {
        FieldOptions {
            fragment_size: 100,
            number_of_fragments: 5,
            no_match_size: 0,
            order_by_score: false,
            pre_tags: None,
            post_tags: None,
            require_field_match: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Highlight {
    pub pre_tags: Vec<String>,
    pub post_tags: Vec<String>,
    pub require_field_match: bool,
    pub html_encoder: bool,
    /// Field patterns in request order with their options.
    pub fields: Vec<(String, FieldOptions)>,
    pub highlight_query: Option<Query>,
}

fn usize_of(v: &Value, name: &str) -> Result<usize, EsError> {
    v.as_i64()
        .filter(|n| *n >= 0)
        .map(|n| n.min(i32::MAX as i64) as usize)
        .ok_or_else(|| {
            EsError::parsing(format!(
                "[highlight] [{name}] must be a non-negative integer"
            ))
        })
}

fn tags(v: &Value, name: &str) -> Result<Vec<String>, EsError> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    EsError::parsing(format!("[highlight] [{name}] must hold strings"))
                })
            })
            .collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        _ => Err(EsError::parsing(format!(
            "[highlight] [{name}] must be an array of strings"
        ))),
    }
}

/// Applies a field-level or top-level option; `false` when the key is not a field option.
fn field_option(o: &mut FieldOptions, k: &str, v: &Value) -> Result<bool, EsError> {
    match k {
        "fragment_size" => o.fragment_size = usize_of(v, k)?,
        "number_of_fragments" => o.number_of_fragments = usize_of(v, k)?,
        "no_match_size" => o.no_match_size = usize_of(v, k)?,
        "order" => o.order_by_score = v.as_str() == Some("score"),
        "pre_tags" => o.pre_tags = Some(tags(v, k)?),
        "post_tags" => o.post_tags = Some(tags(v, k)?),
        "require_field_match" => o.require_field_match = v.as_bool(),
        "type" => match v.as_str() {
            Some("unified") | Some("plain") => {}
            Some(other) => return Err(EsError::unsupported(format!("highlighter type [{other}]"))),
            None => return Err(EsError::parsing("[highlight] [type] must be a string")),
        },
        // Accepted; the fragmenting here follows the unified highlighter's sentence scanner.
        "boundary_scanner"
        | "boundary_chars"
        | "boundary_max_scan"
        | "boundary_scanner_locale"
        | "fragmenter"
        | "fragment_offset"
        | "phrase_limit"
        | "max_analyzed_offset"
        | "force_source"
        | "matched_fields"
        | "highlight_filter" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

impl Highlight {
    pub fn parse(v: &Value) -> Result<Highlight, EsError> {
        let o = v
            .as_object()
            .ok_or_else(|| EsError::parsing("[highlight] must be an object"))?;
        let mut h = Highlight {
            pre_tags: vec!["<em>".into()],
            post_tags: vec!["</em>".into()],
            require_field_match: true,
            html_encoder: false,
            fields: vec![],
            highlight_query: None,
        };
        let mut defaults = FieldOptions::default();
        let mut raw_fields: Vec<(String, Value)> = vec![];
        for (k, v) in o {
            match k.as_str() {
                "pre_tags" => h.pre_tags = tags(v, k)?,
                "post_tags" => h.post_tags = tags(v, k)?,
                "tags_schema" => {
                    if v.as_str() == Some("styled") {
                        h.pre_tags = (1..=10).map(|i| format!("<em class=\"hlt{i}\">")).collect();
                        h.post_tags = vec!["</em>".into()];
                    }
                }
                "require_field_match" => h.require_field_match = v.as_bool().unwrap_or(true),
                "encoder" => h.html_encoder = v.as_str() == Some("html"),
                "highlight_query" => h.highlight_query = Some(crate::dsl::parse_query(v)?),
                "fields" => match v {
                    Value::Object(m) => {
                        raw_fields.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())))
                    }
                    Value::Array(a) => {
                        for item in a {
                            let m = item.as_object().filter(|m| m.len() == 1).ok_or_else(|| {
                                EsError::parsing("[highlight] [fields] array entries must be objects with one field")
                            })?;
                            raw_fields.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    _ => {
                        return Err(EsError::parsing(
                            "[highlight] [fields] must be an object or an array",
                        ));
                    }
                },
                other => {
                    if !field_option(&mut defaults, other, v)? {
                        return Err(EsError::parsing(format!(
                            "[highlight] unknown field [{other}]"
                        )));
                    }
                }
            }
        }
        for (name, spec) in raw_fields {
            let mut fo = defaults.clone();
            if let Value::Object(m) = &spec {
                for (k, v) in m {
                    if k == "highlight_query" {
                        return Err(EsError::unsupported(
                            "[highlight] field-level highlight_query",
                        ));
                    }
                    if !field_option(&mut fo, k, v)? {
                        return Err(EsError::parsing(format!(
                            "[highlight_field] unknown field [{k}]"
                        )));
                    }
                }
            }
            h.fields.push((name, fo));
        }
        if h.fields.is_empty() {
            return Err(EsError::action_request_validation(
                "Validation Failed: 1: [highlight] requires at least one field;",
            ));
        }
        Ok(h)
    }
}

/// What the query matched in one field.
#[derive(Debug, Clone)]
enum Matcher {
    Token(String),
    Prefix(String),
    Fuzzy {
        term: String,
        edits: usize,
        prefix: usize,
    },
    /// Consecutive tokens (slop 0), last one as a prefix when `prefix`.
    Phrase {
        tokens: Vec<String>,
        prefix: bool,
    },
    /// A keyword field's whole value.
    Whole(String),
    /// A wildcard pattern (`*`, `?`, `\` escapes) on a token or a keyword value.
    Glob {
        pattern: String,
        case_insensitive: bool,
    },
    /// A Lucene regular expression (the same RE2 translation the query runs in ClickHouse).
    Regex(Compiled),
}

/// A translated Lucene regexp, compiled with the `regex` crate (RE2 syntax).
#[derive(Debug, Clone)]
enum Compiled {
    Re(regex::Regex),
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
}

impl Compiled {
    fn new(f: &crate::plan::term_level::Formula) -> Option<Compiled> {
        use crate::plan::term_level::Formula;
        Some(match f {
            Formula::Re(p) => Compiled::Re(regex::Regex::new(p).ok()?),
            Formula::And(v) => Compiled::And(v.iter().map(Compiled::new).collect::<Option<_>>()?),
            Formula::Or(v) => Compiled::Or(v.iter().map(Compiled::new).collect::<Option<_>>()?),
            Formula::Not(x) => Compiled::Not(Box::new(Compiled::new(x)?)),
        })
    }

    /// Lucene regexps match the whole term (the RE2 patterns are anchored).
    fn is_match(&self, s: &str) -> bool {
        match self {
            Compiled::Re(r) => r.is_match(s),
            Compiled::And(v) => v.iter().all(|c| c.is_match(s)),
            Compiled::Or(v) => v.iter().any(|c| c.is_match(s)),
            Compiled::Not(c) => !c.is_match(s),
        }
    }

    fn of(pattern: &str, flags: u32, case_insensitive: bool) -> Option<Compiled> {
        let f = crate::plan::term_level::translate_regexp(pattern, flags, case_insensitive).ok()?;
        Compiled::new(&f)
    }
}

/// Collects (field pattern, matcher) pairs of the clauses that can match (not `must_not`).
/// `meta` expands Lucene-syntax queries the way planning does.
fn collect(q: &Query, meta: &IndexMeta, out: &mut Vec<(String, Matcher)>) {
    use crate::analysis::standard_tokens;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match q {
        Query::Term { field, value, .. } => {
            out.push((field.clone(), Matcher::Token(text(value))));
            out.push((field.clone(), Matcher::Whole(text(value))));
        }
        Query::Terms { field, values, .. } => {
            for v in values {
                out.push((field.clone(), Matcher::Token(text(v))));
                out.push((field.clone(), Matcher::Whole(text(v))));
            }
        }
        Query::Match(m) => {
            let toks = standard_tokens(&text(&m.query));
            let n = toks.len();
            for (i, t) in toks.into_iter().enumerate() {
                let matcher = if m.last_is_prefix && i + 1 == n {
                    Matcher::Prefix(t)
                } else if let Some(fz) = &m.fuzziness {
                    let edits = fz.edits_for(&t) as usize;
                    Matcher::Fuzzy {
                        term: t,
                        edits,
                        prefix: m.prefix_length,
                    }
                } else {
                    Matcher::Token(t)
                };
                out.push((m.field.clone(), matcher));
            }
            out.push((m.field.clone(), Matcher::Whole(text(&m.query))));
        }
        Query::MatchPhrase(p) => {
            let toks = standard_tokens(&text(&p.query));
            if p.slop == 0 {
                out.push((
                    p.field.clone(),
                    Matcher::Phrase {
                        tokens: toks,
                        prefix: p.prefix,
                    },
                ));
            } else {
                // Sloppy phrases: highlight their terms.
                out.extend(
                    toks.into_iter()
                        .map(|t| (p.field.clone(), Matcher::Token(t))),
                );
            }
            out.push((p.field.clone(), Matcher::Whole(text(&p.query))));
        }
        Query::MultiMatch(mm) => {
            let patterns: Vec<String> = if mm.fields.is_empty() {
                vec!["*".into()]
            } else {
                mm.fields.iter().map(|(f, _)| f.clone()).collect()
            };
            for pat in patterns {
                let inner = Query::Match(Box::new(crate::dsl::full_text::Match {
                    field: pat,
                    query: mm.query.clone(),
                    ..mm.options.clone()
                }));
                collect(&inner, meta, out);
            }
        }
        Query::Bool(b) => {
            for c in b.must.iter().chain(&b.should).chain(&b.filter) {
                collect(c, meta, out);
            }
        }
        Query::Prefix(p) => {
            let v = if p.case_insensitive {
                p.value.to_lowercase()
            } else {
                p.value.clone()
            };
            out.push((p.field.clone(), Matcher::Prefix(v)));
        }
        Query::Wildcard(w) => out.push((
            w.field.clone(),
            Matcher::Glob {
                pattern: w.value.clone(),
                case_insensitive: w.case_insensitive,
            },
        )),
        Query::Fuzzy(f) => {
            let edits = f.fuzziness.edits_for(&f.value) as usize;
            out.push((
                f.field.clone(),
                Matcher::Fuzzy {
                    term: f.value.clone(),
                    edits,
                    prefix: f.prefix_length,
                },
            ));
        }
        Query::Regexp(r) => {
            if let Some(c) = Compiled::of(&r.value, r.flags, r.case_insensitive) {
                out.push((r.field.clone(), Matcher::Regex(c)));
            }
        }
        Query::ConstantScore(c) => collect(&c.filter, meta, out),
        Query::Boosting(b) => collect(&b.positive, meta, out),
        Query::DisMax(d) => d.queries.iter().for_each(|q| collect(q, meta, out)),
        Query::Nested(n) => collect(&n.query, meta, out),
        Query::QueryString(qs) => {
            let ctx = crate::plan::Ctx::new(meta, chrono::Utc::now().timestamp_millis());
            if let Ok(b) = crate::plan::query_string::build_query_string(&ctx, qs) {
                collect_built(&b, meta, out);
            }
        }
        Query::SimpleQueryString(qs) => {
            let ctx = crate::plan::Ctx::new(meta, chrono::Utc::now().timestamp_millis());
            if let Ok(b) = crate::plan::query_string::build_simple_query_string(&ctx, qs) {
                collect_built(&b, meta, out);
            }
        }
        // Range, exists and ids never highlight.
        _ => {}
    }
}

/// Matchers of a query expanded from Lucene syntax (`plan::query_string::Built`).
fn collect_built(
    b: &crate::plan::query_string::Built,
    meta: &IndexMeta,
    out: &mut Vec<(String, Matcher)>,
) {
    use crate::plan::query_string::{Built, MultiTermKind};
    match b {
        Built::Dsl(q) => collect(q, meta, out),
        Built::Bool(bb) => {
            for c in bb.must.iter().chain(&bb.should).chain(&bb.filter) {
                collect_built(c, meta, out);
            }
        }
        Built::DisMax { queries, .. } => queries.iter().for_each(|q| collect_built(q, meta, out)),
        Built::MultiTerm(m) => {
            let matcher = match &m.kind {
                MultiTermKind::Wildcard(p) => Matcher::Glob {
                    pattern: p.clone(),
                    case_insensitive: false,
                },
                MultiTermKind::Prefix(p) => Matcher::Prefix(p.clone()),
                MultiTermKind::Fuzzy {
                    term,
                    edits,
                    prefix_length,
                    ..
                } => Matcher::Fuzzy {
                    term: term.clone(),
                    edits: *edits as usize,
                    prefix: *prefix_length,
                },
                MultiTermKind::Regexp(r) => {
                    match Compiled::of(r, crate::dsl::term_level::regexp_flags::ALL, false) {
                        Some(c) => Matcher::Regex(c),
                        None => return,
                    }
                }
            };
            out.push((m.field.clone(), matcher));
        }
    }
}

fn fuzzy_ok(token: &str, term: &str, edits: usize, prefix: usize) -> bool {
    let a: Vec<char> = token.chars().collect();
    let b: Vec<char> = term.chars().collect();
    if a.iter().take(prefix).ne(b.iter().take(prefix)) {
        return false;
    }
    // Optimal string alignment distance, as Lucene's fuzzy automata (transpositions on).
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > edits {
        return false;
    }
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[n][m] <= edits
}

/// Wildcard matching as the wildcard query does it: `*` any run, `?` one character, `\` escapes.
fn glob(pattern: &str, text: &str) -> bool {
    crate::glob::lucene(pattern, text)
}

/// Whether a matcher accepts one token (or, for keyword fields, the whole value).
fn accepts(m: &Matcher, token: &str, whole_value: bool) -> bool {
    match m {
        Matcher::Token(t) => !whole_value && token == t,
        Matcher::Whole(w) => whole_value && token == w,
        Matcher::Prefix(p) => token.starts_with(p.as_str()),
        Matcher::Fuzzy {
            term,
            edits,
            prefix,
        } => fuzzy_ok(token, term, *edits, *prefix),
        Matcher::Glob {
            pattern,
            case_insensitive,
        } => {
            if *case_insensitive {
                glob(&pattern.to_lowercase(), &token.to_lowercase())
            } else {
                glob(pattern, token)
            }
        }
        Matcher::Regex(c) => c.is_match(token),
        Matcher::Phrase { .. } => false,
    }
}

/// Byte ranges of the value that the matchers hit.
fn hits_in(value: &str, matchers: &[&Matcher], keyword: bool) -> Vec<(usize, usize)> {
    if keyword {
        return if matchers.iter().any(|m| accepts(m, value, true)) {
            vec![(0, value.len())]
        } else {
            vec![]
        };
    }
    let tokens: Vec<(usize, usize, String)> = value
        .unicode_word_indices()
        .map(|(i, w)| (i, i + w.len(), w.to_lowercase()))
        .collect();
    let mut marked = vec![false; tokens.len()];
    for m in matchers {
        match m {
            Matcher::Token(_)
            | Matcher::Prefix(_)
            | Matcher::Fuzzy { .. }
            | Matcher::Glob { .. }
            | Matcher::Regex(_) => {
                for (k, tok) in tokens.iter().enumerate() {
                    if accepts(m, &tok.2, false) {
                        marked[k] = true;
                    }
                }
            }
            Matcher::Phrase {
                tokens: phrase,
                prefix,
            } => {
                let n = phrase.len();
                if n == 0 || n > tokens.len() {
                    continue;
                }
                for start in 0..=tokens.len() - n {
                    let ok = (0..n).all(|k| {
                        let tok = &tokens[start + k].2;
                        if *prefix && k == n - 1 {
                            tok.starts_with(phrase[k].as_str())
                        } else {
                            tok == &phrase[k]
                        }
                    });
                    if ok {
                        for flag in &mut marked[start..start + n] {
                            *flag = true;
                        }
                    }
                }
            }
            Matcher::Whole(_) => {}
        }
    }
    tokens
        .iter()
        .zip(marked)
        .filter(|(_, m)| *m)
        .map(|(t, _)| (t.0, t.1))
        .collect()
}

fn encode(s: &str, html: bool) -> String {
    if !html {
        return s.to_string();
    }
    super::esc(s)
}

/// Renders `value[start..end]` with the hits inside it tagged.
fn tagged(
    value: &str,
    start: usize,
    end: usize,
    hits: &[(usize, usize)],
    pre: &str,
    post: &str,
    html: bool,
) -> String {
    let mut out = String::new();
    let mut pos = start;
    for &(a, b) in hits.iter().filter(|(a, b)| *a >= start && *b <= end) {
        out.push_str(&encode(&value[pos..a], html));
        out.push_str(pre);
        out.push_str(&encode(&value[a..b], html));
        out.push_str(post);
        pos = b;
    }
    out.push_str(&encode(&value[pos..end], html));
    out
}

/// Fragments of one value: sentences grouped up to `fragment_size` characters (a longer sentence is
/// cut at word boundaries), keeping those that contain a hit.
fn fragments(value: &str, hits: &[(usize, usize)], o: &FieldOptions) -> Vec<(usize, usize, usize)> {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (i, s) in value.split_sentence_bound_indices() {
        let (a, b) = (i, i + s.len());
        if s.chars().count() <= o.fragment_size {
            pieces.push((a, b));
            continue;
        }
        let mut cur = a;
        let mut len = 0;
        for (j, w) in s.split_word_bound_indices() {
            let wl = w.chars().count();
            if len + wl > o.fragment_size && len > 0 {
                pieces.push((cur, a + j));
                cur = a + j;
                len = 0;
            }
            len += wl;
        }
        pieces.push((cur, b));
    }
    // Group consecutive pieces while they fit.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (a, b) in pieces {
        match groups.last_mut() {
            Some(last) if value[last.0..b].chars().count() <= o.fragment_size => last.1 = b,
            _ => groups.push((a, b)),
        }
    }
    groups
        .into_iter()
        .map(|(a, b)| {
            (
                a,
                b,
                hits.iter().filter(|(x, y)| *x >= a && *y <= b).count(),
            )
        })
        .filter(|g| g.2 > 0)
        .collect()
}

/// The string values of a field path in a document (objects and arrays flattened).
fn values_at<'a>(doc: &'a Value, path: &str, out: &mut Vec<&'a str>) {
    match doc {
        Value::Array(a) => a.iter().for_each(|x| values_at(x, path, out)),
        Value::Object(m) => {
            if let Some(v) = m.get(path) {
                leaf_strings(v, out);
            }
            for (k, v) in m {
                if let Some(rest) = path
                    .strip_prefix(k.as_str())
                    .and_then(|r| r.strip_prefix('.'))
                {
                    values_at(v, rest, out);
                }
            }
        }
        _ => {}
    }
}

fn leaf_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| leaf_strings(x, out)),
        _ => {}
    }
}

/// The `highlight` object of one hit, or `None` when no field has a fragment.
pub fn highlight_hit(
    h: &Highlight,
    query: &Query,
    meta: &IndexMeta,
    source: &str,
) -> Option<Map<String, Value>> {
    let doc: Value = serde_json::from_str(source).ok()?;
    let mut matchers = Vec::new();
    collect(
        h.highlight_query.as_ref().unwrap_or(query),
        meta,
        &mut matchers,
    );
    let mut out = Map::new();
    let leaf_paths: Vec<String> = meta
        .mappings
        .leaf_fields()
        .into_iter()
        .map(|f| f.path)
        .collect();
    for (pattern, o) in &h.fields {
        let targets: Vec<String> = if pattern.contains('*') {
            leaf_paths
                .iter()
                .filter(|p| crate::catalog::glob_match(pattern, p))
                .cloned()
                .collect()
        } else {
            vec![pattern.clone()]
        };
        let require = o.require_field_match.unwrap_or(h.require_field_match);
        let pre = o
            .pre_tags
            .as_ref()
            .unwrap_or(&h.pre_tags)
            .first()
            .cloned()
            .unwrap_or_default();
        let post = o
            .post_tags
            .as_ref()
            .unwrap_or(&h.post_tags)
            .first()
            .cloned()
            .unwrap_or_default();
        for path in targets {
            if out.contains_key(&path) {
                continue;
            }
            let Some(f) = fields::resolve(meta, &path) else {
                continue;
            };
            let keyword = match f.kind {
                EsKind::Text => false,
                EsKind::Keyword | EsKind::Wildcard | EsKind::ConstantKeyword => true,
                _ => continue,
            };
            let relevant: Vec<&Matcher> = matchers
                .iter()
                .filter(|(p, _)| {
                    !require
                        || p == &path
                        || (p.contains('*') && crate::catalog::glob_match(p, &path))
                })
                .map(|(_, m)| m)
                .collect();
            let mut values = Vec::new();
            values_at(&doc, &path, &mut values);
            let mut frags: Vec<(String, usize, usize)> = Vec::new();
            for (vi, v) in values.iter().enumerate() {
                let hits = hits_in(v, &relevant, keyword);
                if hits.is_empty() {
                    continue;
                }
                if o.number_of_fragments == 0 || keyword || v.chars().count() <= o.fragment_size {
                    frags.push((
                        tagged(v, 0, v.len(), &hits, &pre, &post, h.html_encoder),
                        hits.len(),
                        vi,
                    ));
                } else {
                    for (a, b, n) in fragments(v, &hits, o) {
                        frags.push((
                            tagged(v, a, b, &hits, &pre, &post, h.html_encoder)
                                .trim()
                                .to_string(),
                            n,
                            vi,
                        ));
                    }
                }
            }
            if frags.is_empty() {
                if o.no_match_size > 0
                    && let Some(v) = values.first()
                {
                    let cut: String = v.chars().take(o.no_match_size).collect();
                    out.insert(
                        path.clone(),
                        Value::Array(vec![Value::String(encode(cut.trim_end(), h.html_encoder))]),
                    );
                }
                continue;
            }
            if o.order_by_score {
                frags.sort_by_key(|f| std::cmp::Reverse(f.1));
            }
            if o.number_of_fragments > 0 {
                frags.truncate(o.number_of_fragments);
            }
            out.insert(
                path.clone(),
                Value::Array(frags.into_iter().map(|f| Value::String(f.0)).collect()),
            );
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_patterns() {
        assert!(glob("qu?ck", "quick"));
        assert!(glob("q*k", "quick"));
        assert!(!glob("q*z", "quick"));
        assert!(glob("a\\*b", "a*b"));
        assert!(!glob("a\\*b", "axb"));
    }

    #[test]
    fn fuzzy_distance_counts_transpositions_once() {
        assert!(fuzzy_ok("quick", "qiuck", 1, 0));
        assert!(!fuzzy_ok("quick", "qikuc", 1, 0));
        assert!(!fuzzy_ok("quick", "xuick", 1, 1));
    }

    #[test]
    fn fragments_follow_sentences() {
        let v = "First sentence is here. The quick fox is second. Third one has no match at all.";
        let hits = hits_in(v, &[&Matcher::Token("quick".into())], false);
        let o = FieldOptions {
            fragment_size: 30,
            ..Default::default()
        };
        let f = fragments(v, &hits, &o);
        assert_eq!(f.len(), 1);
        assert_eq!(
            tagged(v, f[0].0, f[0].1, &hits, "<em>", "</em>", false).trim(),
            "The <em>quick</em> fox is second."
        );
    }
}
