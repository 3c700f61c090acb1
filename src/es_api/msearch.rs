//! `_msearch`: NDJSON header/body pairs, one response per pair, in order.
//! (docs: search-multi-search.html; ES source: MultiSearchRequest#readMultiLineFormat,
//! RestMultiSearchAction, MultiSearchResponse)
//!
//! A malformed header or body fails the whole request, as in Elasticsearch (they are parsed before
//! anything runs); validation and execution errors are reported per item with their `status`.

use super::search::{self, SearchRequest, check_params};
use super::{ApiResult, Params, json_parse_error};
use crate::error::EsError;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value};
use std::time::Instant;

const MSEARCH_PARAMS: &[&str] = &[
    "search_type",
    "max_concurrent_searches",
    "max_concurrent_shard_requests",
    "pre_filter_shard_size",
    "typed_keys",
    "rest_total_hits_as_int",
    "ccs_minimize_roundtrips",
    "ignore_unavailable",
    "ignore_throttled",
    "allow_no_indices",
    "expand_wildcards",
    "routing",
    "include_named_queries_score",
];

/// Header keys (and their camelCase spellings) that ES reads from an item's metadata line.
const HEADER_KEYS: &[&str] = &[
    "index",
    "indices",
    "search_type",
    "searchType",
    "ccs_minimize_roundtrips",
    "ccsMinimizeRoundtrips",
    "request_cache",
    "requestCache",
    "preference",
    "routing",
    "allow_partial_search_results",
    "expand_wildcards",
    "expandWildcards",
    "ignore_unavailable",
    "ignoreUnavailable",
    "allow_no_indices",
    "allowNoIndices",
    "ignore_throttled",
    "ignoreThrottled",
];

struct Item {
    index: Option<String>,
    params: Params,
    body: Value,
}

fn header_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn parse_lines(data: &[u8], path_index: Option<&str>, p: &Params) -> Result<Vec<Item>, EsError> {
    let mut items = Vec::new();
    let mut from = 0;
    let next_line = |from: usize| -> Result<Option<usize>, EsError> {
        match data[from..].iter().position(|b| *b == b'\n') {
            Some(i) => Ok(Some(from + i)),
            None if from != data.len() => Err(EsError::illegal_argument(
                "The msearch request must be terminated by a newline [\n]",
            )),
            None => Ok(None),
        }
    };
    loop {
        let Some(end) = next_line(from)? else { break };
        let header_bytes = &data[from..end];
        let mut item = Item {
            index: path_index.map(str::to_string),
            params: Params::new(),
            body: Value::Object(Map::new()),
        };
        for k in [
            "search_type",
            "routing",
            "ignore_unavailable",
            "allow_no_indices",
            "expand_wildcards",
            "ignore_throttled",
            "ccs_minimize_roundtrips",
            "rest_total_hits_as_int",
        ] {
            if let Some(v) = p.get(k) {
                item.params.insert(k.to_string(), v.clone());
            }
        }
        if !header_bytes.iter().all(u8::is_ascii_whitespace) {
            let header: Value =
                serde_json::from_slice(header_bytes).map_err(|e| json_parse_error(&e))?;
            let Value::Object(h) = header else {
                return Err(EsError::parsing("msearch header must be an object"));
            };
            for (k, v) in h {
                if !HEADER_KEYS.contains(&k.as_str()) {
                    return Err(EsError::illegal_argument(format!(
                        "key [{k}] is not supported in the metadata section"
                    )));
                }
                let name = match k.as_str() {
                    "indices" => "index",
                    "searchType" => "search_type",
                    "ccsMinimizeRoundtrips" => "ccs_minimize_roundtrips",
                    "requestCache" => "request_cache",
                    "expandWildcards" => "expand_wildcards",
                    "ignoreUnavailable" => "ignore_unavailable",
                    "allowNoIndices" => "allow_no_indices",
                    "ignoreThrottled" => "ignore_throttled",
                    other => other,
                };
                if name == "index" {
                    item.index = Some(header_string(&v));
                } else {
                    item.params.insert(name.to_string(), header_string(&v));
                }
            }
        }
        from = end + 1;
        let Some(end) = next_line(from)? else { break };
        let body_bytes = &data[from..end];
        if !body_bytes.iter().all(u8::is_ascii_whitespace) {
            item.body = serde_json::from_slice(body_bytes).map_err(|e| json_parse_error(&e))?;
        }
        from = end + 1;
        items.push(item);
    }
    Ok(items)
}

/// One item's response: the search response plus `status`, or the error plus `status`.
async fn run_item(s: &AppState, item: &Item, req: Result<SearchRequest, EsError>) -> String {
    let result = async {
        let req = req?;
        search::validate(&req, item.index.is_some(), &item.params)?;
        search::run_search(s, item.index.as_deref(), &item.params, &req, &item.body).await
    }
    .await;
    match result {
        Ok(text) => {
            // `{…}` → `{…,"status":200}` without re-serialising the hits.
            let trimmed = text.trim_end();
            let inner = trimmed.strip_suffix('}').unwrap_or(trimmed);
            format!("{inner},\"status\":200}}")
        }
        Err(e) => {
            let mut v = e.to_json();
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), Value::from(e.status));
            }
            v.to_string()
        }
    }
}

async fn msearch_impl(
    s: AppState,
    index: Option<&str>,
    path: &str,
    p: Params,
    body: Bytes,
) -> ApiResult {
    let started = Instant::now();
    check_params(path, &p, MSEARCH_PARAMS)?;
    for name in [
        "typed_keys",
        "rest_total_hits_as_int",
        "ccs_minimize_roundtrips",
    ] {
        super::flag(&p, name)?;
    }
    if let Some(v) = p.get("max_concurrent_searches") {
        let n: i64 = v.parse().map_err(|_| {
            EsError::illegal_argument(format!(
                "Failed to parse int parameter [max_concurrent_searches] with value [{v}]"
            ))
        })?;
        if n < 1 {
            return Err(EsError::illegal_argument(
                "maxConcurrentSearchRequests must be positive",
            ));
        }
    }
    let items = parse_lines(&body, index, &p)?;
    if items.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: no requests added;",
        ));
    }
    // Every body is parsed before anything runs: a malformed one fails the whole request.
    let mut parsed = Vec::new();
    for it in &items {
        let folded = search::fold_params(Some(it.body.clone()), &Params::new())?;
        parsed.push(search::parse_body_value(&folded, &it.params)?);
    }
    let mut out = String::from("{\"took\":");
    let mut responses = Vec::new();
    for (it, req) in items.iter().zip(parsed) {
        responses.push(run_item(&s, it, Ok(req)).await);
    }
    out.push_str(&started.elapsed().as_millis().to_string());
    out.push_str(",\"responses\":[");
    out.push_str(&responses.join(","));
    out.push_str("]}");
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

pub async fn msearch(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    msearch_impl(s, Some(&index), uri.path(), p, body).await
}

pub async fn msearch_all(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    msearch_impl(s, None, uri.path(), p, body).await
}
