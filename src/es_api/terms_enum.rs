//! `_terms_enum` (`GET|POST /{index}/_terms_enum`): the indexed terms of a field that start with a
//! string, in term (byte) order — Kibana's unified search autocomplete asks it for value suggestions.
//!
//! Behaviour learnt from elastic/elasticsearch 8.x x-pack/plugin/core/.../termsenum/action:
//! `TermsEnumRequest` (field, string, search_after, size default 10, timeout default 1s and at most a
//! minute, case_insensitive, index_filter; validation messages), `TermsEnumResponse` (a broadcast
//! response: `_shards`, `terms`, `complete`), `TransportTermsEnumAction` (terms merged across shards,
//! deduplicated, sorted, cut at `size`; `index_filter` only skips shards that cannot match) and the
//! field types that implement `MappedFieldType#getTerms` (keyword and constant_keyword here; every
//! other type contributes no terms, as in Elasticsearch).
//!
//! One ClickHouse query for all indices: a UNION ALL of each index's values, grouped, ordered and
//! limited once.

use super::search::check_params;
use super::{ApiResult, Params, flag, ok};
use crate::error::EsError;
use crate::plan::fields;
use crate::server::AppState;
use crate::sql::{self, ChType, Expr};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::time::Duration;

const PARAMS: &[&str] = &["ignore_unavailable", "allow_no_indices", "expand_wildcards"];

/// Lucene's IndexWriter.MAX_TERM_LENGTH.
const MAX_TERM_LENGTH: usize = 32766;

struct Request {
    field: Option<String>,
    string: Option<String>,
    search_after: Option<String>,
    size: u64,
    timeout_ms: i64,
    case_insensitive: bool,
    index_filter: Option<Value>,
}

fn bad_field(field: &str, v: &Value) -> EsError {
    EsError::x_content_parse(format!(
        "[terms_enum_request] failed to parse field [{field}]"
    ))
    .caused_by(EsError::illegal_argument(format!(
        "unexpected value [{v}] for [{field}]"
    )))
}

fn parse(body: &Bytes) -> Result<Request, EsError> {
    let mut r = Request {
        field: None,
        string: None,
        search_after: None,
        size: 10,
        timeout_ms: 1000,
        case_insensitive: false,
        index_filter: None,
    };
    let Some(v) = super::parse_body(body)? else {
        return Ok(r);
    };
    let Value::Object(m) = v else {
        return Err(EsError::x_content_parse(
            "[terms_enum_request] Expected START_OBJECT",
        ));
    };
    let text = |k: &str, v: &Value| -> Result<String, EsError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(bad_field(k, other)),
        }
    };
    for (k, v) in m {
        match k.as_str() {
            "field" => r.field = Some(text(&k, &v)?),
            "string" => r.string = Some(text(&k, &v)?),
            "search_after" => r.search_after = Some(text(&k, &v)?),
            "size" => {
                r.size = match &v {
                    Value::Number(n) if n.as_i64().is_some() => {
                        n.as_i64().unwrap_or(0).max(0) as u64
                    }
                    Value::String(s) => s.parse::<u64>().map_err(|_| bad_field(&k, &v))?,
                    _ => return Err(bad_field(&k, &v)),
                }
            }
            "timeout" => {
                let t = text(&k, &v)?;
                r.timeout_ms = super::cursor::parse_time_value(&t, "timeout")?;
            }
            "case_insensitive" => {
                r.case_insensitive = match &v {
                    Value::Bool(b) => *b,
                    Value::String(s) if s == "true" => true,
                    Value::String(s) if s == "false" => false,
                    _ => return Err(bad_field(&k, &v)),
                }
            }
            "index_filter" => r.index_filter = Some(v),
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[terms_enum_request] unknown field [{other}]"
                )));
            }
        }
    }
    Ok(r)
}

/// TermsEnumRequest#validate.
fn validate(r: &Request) -> Result<(), EsError> {
    let mut errors = Vec::new();
    if r.string.as_ref().is_some_and(|s| s.len() > MAX_TERM_LENGTH) {
        errors.push(format!(
            "prefix string larger than {MAX_TERM_LENGTH} characters, which is the maximum allowed term length for keyword fields."
        ));
    }
    if r.field.is_none() {
        errors.push("field cannot be null".to_string());
    }
    if r.timeout_ms > 60_000 {
        errors.push("Timeout cannot be > 1 minute".to_string());
    }
    if errors.is_empty() {
        return Ok(());
    }
    let mut msg = "Validation Failed: ".to_string();
    for (i, e) in errors.iter().enumerate() {
        msg.push_str(&format!("{}: {e};", i + 1));
    }
    Err(EsError::action_request_validation(msg))
}

/// The prefix / search_after / case conditions on a term expression.
fn term_conditions(t: Expr, r: &Request) -> Vec<Expr> {
    let mut conds = vec![t.clone().is_not_null()];
    if let Some(s) = r.string.as_deref().filter(|s| !s.is_empty()) {
        conds.push(if r.case_insensitive {
            Expr::func(
                "startsWith",
                vec![
                    Expr::func("lowerUTF8", vec![t.clone()]),
                    Expr::func("lowerUTF8", vec![sql::lit(s)]),
                ],
            )
        } else {
            Expr::func("startsWith", vec![t.clone(), sql::lit(s)])
        });
    }
    if let Some(a) = &r.search_after {
        conds.push(t.gt(sql::lit(a.as_str())));
    }
    conds
}

async fn terms_enum_impl(s: AppState, expr: &str, path: &str, p: Params, body: Bytes) -> ApiResult {
    check_params(path, &p, PARAMS)?;
    for f in ["ignore_unavailable", "allow_no_indices"] {
        flag(&p, f)?;
    }
    let r = parse(&body)?;
    validate(&r)?;
    let field = r.field.clone().unwrap_or_default();
    let metas = s
        .catalog
        .resolve(expr, super::indices::resolve_options(&p)?)
        .await?;
    let n_shards = metas.len();
    let mut constants: Vec<String> = Vec::new();
    let mut selects: Vec<sql::Select> = Vec::new();
    for meta in &metas {
        if let Some(f) = &r.index_filter
            && !super::field_caps::index_matches(&s, meta, f).await?
        {
            continue;
        }
        let Some(info) = meta.mappings.field(&field) else {
            continue;
        };
        match info.es_type.as_str() {
            "keyword" => {}
            "constant_keyword" => {
                if let Some(v) = &info.constant_value {
                    constants.push(v.clone());
                }
                continue;
            }
            // MappedFieldType#getTerms returns null: the field contributes nothing.
            _ => continue,
        }
        let Some(f) = fields::resolve(meta, &field) else {
            continue;
        };
        let col = f.column_expr();
        let short = |x: Expr| {
            f.ignore_above
                .map(|n| Expr::func("lengthUTF8", vec![x]).lte(sql::lit(n)))
        };
        let (value, where_) = match &f.column_type.base() {
            ChType::Array(inner) => {
                let flat = if matches!(inner.base(), ChType::Array(_)) {
                    Expr::func("arrayFlatten", vec![col])
                } else {
                    col
                };
                let kept = match short(sql::col("x")) {
                    Some(c) => Expr::func("arrayFilter", vec![sql::lambda(["x"], c), flat]),
                    None => flat,
                };
                (Expr::func("arrayJoin", vec![kept]), None)
            }
            _ => (col.clone(), short(col)),
        };
        selects.push(sql::Select {
            // `__t`: not a name a column can have (the WHERE holds the user's index_filter).
            items: vec![value.alias("__t")],
            from: Some(meta.from_clause()),
            rows: meta.rows(),
            where_,
            ..Default::default()
        });
    }
    let mut terms: Vec<String> = Vec::new();
    let mut complete = true;
    if !selects.is_empty() {
        let q = sql::Select {
            items: vec![sql::col("__t").alias("t")],
            from: Some(sql::FromClause::subquery(sql::union_all(selects), "u")),
            where_: Some(sql::and_all(term_conditions(sql::col("__t"), &r))),
            group_by: vec![sql::col("__t")],
            order_by: vec![sql::col("__t").asc()],
            limit: Some(r.size),
            ..Default::default()
        };
        let run = s.ch.query_rows(&q);
        let rows = if r.timeout_ms > 0 {
            match tokio::time::timeout(Duration::from_millis(r.timeout_ms as u64), run).await {
                Ok(rows) => Some(rows?),
                Err(_) => None,
            }
        } else {
            Some(run.await?)
        };
        match rows {
            Some(rows) => {
                terms = rows
                    .iter()
                    .filter_map(|row| row.get("t").and_then(Value::as_str).map(str::to_string))
                    .collect();
            }
            // TransportTermsEnumAction: shards that did not answer in time make the list incomplete.
            None => complete = false,
        }
    }
    // constant_keyword values join the merged, sorted, deduplicated list.
    for c in constants {
        let ok = term_conditions_match(&c, &r);
        if ok && !terms.contains(&c) {
            terms.push(c);
        }
    }
    terms.sort();
    terms.truncate(r.size as usize);
    tracing::debug!(field = %field, terms = terms.len(), complete, "terms_enum");
    Ok(ok(json!({
        "_shards": {"total": n_shards, "successful": n_shards, "failed": 0},
        "terms": terms,
        "complete": complete
    }))
    .into_response())
}

/// `term_conditions` evaluated in Rust (for constant_keyword values).
fn term_conditions_match(t: &str, r: &Request) -> bool {
    let prefix_ok = match r.string.as_deref().filter(|s| !s.is_empty()) {
        None => true,
        Some(p) if r.case_insensitive => t.to_lowercase().starts_with(&p.to_lowercase()),
        Some(p) => t.starts_with(p),
    };
    prefix_ok && r.search_after.as_deref().is_none_or(|a| t > a)
}

pub async fn terms_enum(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    terms_enum_impl(s, &index, uri.path(), p, body).await
}
