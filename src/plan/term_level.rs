//! Term-level queries → SQL: the WHERE predicate and the `_score` expression of each query type.
//!
//! On `keyword` (and `wildcard`) fields the pattern applies to each whole value, through
//! [`keyword_pred`] so `ignore_above` hides long values as in Elasticsearch; on `text` fields it
//! applies to the indexed tokens ([`any_token`]); `constant_keyword` compares its mapped value here;
//! other field types answer Elasticsearch's error. Unmapped fields match nothing.
//!
//! Scores: prefix, wildcard and regexp score their boost (constant-score rewrite, Elasticsearch's
//! default). Fuzzy is scored in Elasticsearch (top_terms_blended_freqs: the term's similarity and
//! frequencies); here it scores its boost too — a documented difference (docs/queries.md).

mod lucene_regex;

use super::fields::{self, EsKind, Field};
use super::{Ctx, always, any_token, keyword_pred, never};
use crate::dsl::term_level::{Fuzzy, Prefix, Regexp, Wildcard};
use crate::error::EsError;
use crate::sql::{self, Expr};
pub use lucene_regex::{Formula, RegexError, translate as translate_regexp};

/// `failed to create query: …` as Elasticsearch wraps an IllegalArgumentException raised while
/// building a Lucene query (SearchExecutionContext#toQuery).
fn create_failure(msg: String) -> EsError {
    EsError::new(
        400,
        "query_shard_exception",
        format!("failed to create query: {msg}"),
    )
    .with("index_uuid", "_na_")
    .caused_by(EsError::illegal_argument(msg))
}

/// How a pattern applies to a field: on every keyword value, on every text token, or to the
/// constant of a constant_keyword field.
fn string_pred(f: &Field, pred: impl Fn(Expr) -> Expr, constant: impl Fn(&str) -> bool) -> Expr {
    match f.kind {
        EsKind::Text => any_token(f, pred),
        EsKind::ConstantKeyword => match &f.constant_value {
            Some(v) if constant(v) => always(),
            _ => never(),
        },
        _ => keyword_pred(f, pred),
    }
}

fn string_kind(k: EsKind, wildcard_ok: bool) -> bool {
    matches!(
        k,
        EsKind::Keyword | EsKind::Text | EsKind::ConstantKeyword | EsKind::Other
    ) || (wildcard_ok && k == EsKind::Wildcard)
}

fn wrong_type(query: &str, f: &Field, allowed: &str) -> EsError {
    EsError::new(
        400,
        "query_shard_exception",
        format!(
            "Can only use {query} queries on {allowed} fields - not on [{}] which is of type [{}]",
            f.path, f.es_type
        ),
    )
    .with("index_uuid", "_na_")
}

fn lower(x: Expr) -> Expr {
    Expr::func("lowerUTF8", vec![x])
}

pub fn filter_prefix(ctx: &Ctx, q: &Prefix) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(ctx.meta, &q.field) else {
        return Ok(never());
    };
    if !string_kind(f.kind, true) {
        return Err(wrong_type("prefix", &f, "keyword, text and wildcard"));
    }
    let ci = q.case_insensitive;
    let value = if ci {
        q.value.to_lowercase()
    } else {
        q.value.clone()
    };
    let lit = sql::lit(value.clone());
    Ok(string_pred(
        &f,
        |x| {
            let x = if ci { lower(x) } else { x };
            Expr::func("startsWith", vec![x, lit.clone()])
        },
        |c| {
            if ci {
                c.to_lowercase().starts_with(&value)
            } else {
                c.starts_with(&value)
            }
        },
    ))
}

pub fn score_prefix(_ctx: &Ctx, q: &Prefix) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

/// A wildcard pattern as a LIKE pattern: `*` → `%`, `?` → `_` (one code point in ClickHouse,
/// as in Lucene), `\x` → the literal `x`, LIKE's own `%`, `_`, `\` escaped.
pub fn wildcard_to_like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '\\' => {
                // A trailing backslash is a literal backslash (WildcardQuery#toAutomaton).
                let lit = chars.next().unwrap_or('\\');
                out.push_str(&sql::escape_like(&lit.to_string()));
            }
            c => out.push_str(&sql::escape_like(&c.to_string())),
        }
    }
    out
}

pub fn filter_wildcard(ctx: &Ctx, q: &Wildcard) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(ctx.meta, &q.field) else {
        return Ok(never());
    };
    if !string_kind(f.kind, true) {
        return Err(wrong_type("wildcard", &f, "keyword, text and wildcard"));
    }
    // Not normalised, on text fields neither: the `wildcard` query calls
    // StringFieldType#wildcardQuery with shouldNormalize = false (only query_string normalises).
    let value = q.value.clone();
    let like = sql::lit(wildcard_to_like(&value));
    let ci = q.case_insensitive;
    // constant_keyword values are matched here, as Lucene's WildcardQuery would.
    let pattern = if ci {
        value.to_lowercase()
    } else {
        value.clone()
    };
    Ok(string_pred(
        &f,
        |x| {
            if ci {
                x.ilike(like.clone())
            } else {
                x.like(like.clone())
            }
        },
        |c| {
            if ci {
                crate::glob::lucene(&pattern, &c.to_lowercase())
            } else {
                crate::glob::lucene(&pattern, c)
            }
        },
    ))
}

pub fn score_wildcard(_ctx: &Ctx, q: &Wildcard) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

fn formula_expr(f: &Formula, x: &Expr) -> Expr {
    match f {
        Formula::Re(p) => Expr::func("match", vec![x.clone(), sql::lit(p.as_str())]),
        Formula::And(v) => sql::and_all(v.iter().map(|f| formula_expr(f, x))),
        Formula::Or(v) => sql::or_all(v.iter().map(|f| formula_expr(f, x))),
        Formula::Not(inner) => formula_expr(inner, x).not(),
    }
}

pub fn filter_regexp(ctx: &Ctx, q: &Regexp) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(ctx.meta, &q.field) else {
        return Ok(never());
    };
    if !string_kind(f.kind, true) {
        return Err(wrong_type("regexp", &f, "keyword and text"));
    }
    // RegexpQueryBuilder#doToQuery: the pattern's length (in UTF-16 units, Java's length())
    // against `index.max_regex_length`.
    let len = q.value.encode_utf16().count() as u64;
    let max = crate::limits::index_setting(
        ctx.meta,
        "max_regex_length",
        crate::limits::MAX_REGEX_LENGTH,
    );
    if len > max {
        return Err(EsError::illegal_argument(format!(
            "The length of regex [{len}] used in the Regexp Query request has exceeded the allowed maximum of [{max}]. This maximum can be set by changing the [index.max_regex_length] index level setting."
        )));
    }
    let formula = match translate_regexp(&q.value, q.flags, q.case_insensitive) {
        Ok(f) => f,
        Err(RegexError::Syntax(m)) => return Err(create_failure(m)),
        Err(RegexError::Unsupported(what)) => return Err(EsError::unsupported(what)),
    };
    if f.kind == EsKind::ConstantKeyword {
        // No column to run RE2 on: evaluate the constant in the query.
        let Some(c) = &f.constant_value else {
            return Ok(never());
        };
        return Ok(formula_expr(&formula, &sql::lit(c.as_str())));
    }
    Ok(string_pred(&f, |x| formula_expr(&formula, &x), |_| false))
}

pub fn score_regexp(_ctx: &Ctx, q: &Regexp) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

/// `term` with its code points `i` and `i + 1` (1-based) swapped, in SQL.
fn swapped(term: Expr, i: Expr) -> Expr {
    let sub = |from: Expr, len: Option<Expr>| {
        let mut args = vec![term.clone(), from];
        args.extend(len);
        Expr::func("substringUTF8", args)
    };
    let one = || Some(sql::lit(1u64));
    Expr::func(
        "concat",
        vec![
            sub(sql::lit(1u64), Some(i.clone() - sql::lit(1u64))),
            sub(i.clone() + sql::lit(1u64), one()),
            sub(i.clone(), one()),
            sub(i + sql::lit(2u64), None),
        ],
    )
}

/// `x` is within `edits` of `term`, counted in code points. Without transpositions this is
/// Levenshtein distance (`editDistanceUTF8`); with them, Lucene counts swapping two adjacent
/// characters as one edit (restricted Damerau-Levenshtein): we also accept a term within
/// `edits - 1` of one transposed variant of the query term, or (2 edits) equal to a variant with
/// two transpositions. ClickHouse's `damerauLevenshteinDistance` counts bytes and allows
/// unrestricted transpositions, so it is not used. The variants are made by lambdas over the
/// swap positions, so the SQL stays the same size for any term length, and a length test first
/// keeps the edit distances to the values that can be close at all (|length difference| ≤ edits).
fn within_edits(x: Expr, term: &[char], edits: u8, transpositions: bool) -> Expr {
    let n = term.len() as u64;
    let t = sql::lit(term.iter().collect::<String>());
    let dist = |a: Expr, b: Expr| Expr::func("editDistanceUTF8", vec![a, b]);
    let mut ors = vec![dist(x.clone(), t.clone()).lte(sql::lit(edits as u64))];
    if transpositions && edits >= 1 && n >= 2 {
        let positions = || Expr::func("range", vec![sql::lit(1u64), sql::lit(n)]);
        let exists = |param: &str, body: Expr| {
            Expr::func("arrayExists", vec![sql::lambda([param], body), positions()])
        };
        if edits == 1 {
            ors.push(exists(
                "__i",
                x.clone().eq(swapped(t.clone(), sql::col("__i"))),
            ));
        } else {
            // One transposition at i and one more edit that leaves the swapped pair alone (optimal
            // string alignment edits no substring twice: inserting between the swapped characters
            // is not allowed, which a plain distance to the swapped variant would accept): with
            // t = A·p·q·B, x is A·q·p·B' with B' one edit from B, or A'·q·p·B with A' one edit
            // from A.
            let i = || sql::col("__i");
            let sub = |e: Expr, from: Expr, len: Option<Expr>| {
                let mut args = vec![e, from];
                args.extend(len);
                Expr::func("substringUTF8", args)
            };
            let head = sub(t.clone(), sql::lit(1u64), Some(i() - sql::lit(1u64)));
            let pair = Expr::func(
                "concat",
                vec![
                    sub(t.clone(), i() + sql::lit(1u64), Some(sql::lit(1u64))),
                    sub(t.clone(), i(), Some(sql::lit(1u64))),
                ],
            );
            let tail = sub(t.clone(), i() + sql::lit(2u64), None);
            let x_len = Expr::func("toInt64", vec![Expr::func("lengthUTF8", vec![x.clone()])]);
            // Code points of q·p·B: n - i + 1.
            let right_len = sql::lit(n as i64 + 1) - Expr::func("toInt64", vec![i()]);
            let left_exact = Expr::func(
                "startsWith",
                vec![
                    x.clone(),
                    Expr::func("concat", vec![head.clone(), pair.clone()]),
                ],
            )
            .and(
                dist(sub(x.clone(), i() + sql::lit(2u64), None), tail.clone()).lte(sql::lit(1u64)),
            );
            let right_exact = Expr::func(
                "endsWith",
                vec![x.clone(), Expr::func("concat", vec![pair, tail])],
            )
            .and(x_len.clone().gte(right_len.clone()))
            .and(
                dist(
                    sub(
                        x.clone(),
                        sql::lit(1u64),
                        Some(Expr::func(
                            "toUInt64",
                            vec![Expr::func(
                                "greatest",
                                vec![x_len - right_len, sql::lit(0i64)],
                            )],
                        )),
                    ),
                    head,
                )
                .lte(sql::lit(1u64)),
            );
            ors.push(exists("__i", sql::or_all(vec![left_exact, right_exact])));
            ors.push(exists(
                "__i",
                exists(
                    "__j",
                    x.clone().eq(swapped(
                        swapped(t.clone(), sql::col("__i")),
                        sql::col("__j"),
                    )),
                ),
            ));
        }
    }
    let length_diff = Expr::func(
        "abs",
        vec![
            Expr::func("toInt64", vec![Expr::func("lengthUTF8", vec![x.clone()])])
                - sql::lit(n as i64),
        ],
    );
    // A transposition is two Levenshtein edits: nothing farther than 2 × edits can match, which
    // spares the variants' distances for all but the nearest values.
    let levenshtein_bound = dist(x, t).lte(sql::lit(2 * edits as u64));
    length_diff
        .lte(sql::lit(edits as i64))
        .and(levenshtein_bound)
        .and(sql::or_all(ors))
}

/// `x` is within `edits` of `term` as Lucene's FuzzyQuery counts (code points; with
/// `transpositions` a swap of adjacent characters is one edit), its first `prefix_length` code
/// points equal to the term's (FuzzyAutomatonBuilder: the prefix is clamped to the term's length,
/// edits apply to the rest). Shared by the `fuzzy` query, `match` with `fuzziness` and `term~N` in
/// query_string.
pub(crate) fn fuzzy_pred(
    x: Expr,
    term: &str,
    prefix_length: usize,
    edits: u8,
    transpositions: bool,
) -> Expr {
    if edits == 0 {
        return x.eq(sql::lit(term));
    }
    let chars: Vec<char> = term.chars().collect();
    let plen = prefix_length.min(chars.len());
    let prefix: String = chars[..plen].iter().collect();
    let tail = Expr::func(
        "substringUTF8",
        vec![x.clone(), sql::lit((plen + 1) as u64)],
    );
    let close = within_edits(tail, &chars[plen..], edits, transpositions);
    if plen == 0 {
        close
    } else {
        Expr::func("startsWith", vec![x, sql::lit(prefix.as_str())]).and(close)
    }
}

pub fn filter_fuzzy(ctx: &Ctx, q: &Fuzzy) -> Result<Expr, EsError> {
    let Some(f) = fields::resolve(ctx.meta, &q.field) else {
        return Ok(never());
    };
    if !string_kind(f.kind, true) {
        return Err(create_failure(format!(
            "Can only use fuzzy queries on keyword and text fields - not on [{}] which is of type [{}]",
            f.path, f.es_type
        )));
    }
    let edits = q.fuzziness.edits_for(&q.value);
    let pred = |x: Expr| fuzzy_pred(x, &q.value, q.prefix_length, edits, q.transpositions);
    if f.kind == EsKind::ConstantKeyword {
        let Some(c) = &f.constant_value else {
            return Ok(never());
        };
        return Ok(pred(sql::lit(c.as_str())));
    }
    Ok(string_pred(&f, pred, |_| false))
}

pub fn score_fuzzy(_ctx: &Ctx, q: &Fuzzy) -> Result<Expr, EsError> {
    Ok(sql::lit(q.boost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_patterns_become_like_patterns() {
        // query-dsl-wildcard-query.html: `*` any sequence, `?` one character; `\` escapes.
        assert_eq!(wildcard_to_like("ki*y"), "ki%y");
        assert_eq!(wildcard_to_like("k?y"), "k_y");
        assert_eq!(wildcard_to_like("a\\*b"), "a*b");
        assert_eq!(wildcard_to_like("a\\?"), "a?");
        assert_eq!(wildcard_to_like("50%_\\\\"), "50\\%\\_\\\\");
        assert_eq!(wildcard_to_like("x\\"), "x\\\\");
        let m = crate::glob::lucene;
        assert!(m("ki*y", "kimchy"));
        assert!(m("k?y", "kéy"));
        assert!(!m("a\\*", "ab"));
        assert!(m("a\\*", "a*"));
    }

    #[test]
    fn transposition_variants_render_as_substrings() {
        // Swapping code points i and i + 1: the part before, i + 1, i, the part after.
        assert_eq!(
            swapped(sql::lit("abca"), sql::col("__i")).to_string(),
            "concat(substringUTF8('abca', 1, `__i` - 1), substringUTF8('abca', `__i` + 1, 1), \
             substringUTF8('abca', `__i`, 1), substringUTF8('abca', `__i` + 2))"
        );
    }
}
