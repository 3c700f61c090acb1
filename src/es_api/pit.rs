//! Point in time: `POST /{index}/_pit?keep_alive=1m` opens one, `DELETE /_pit` closes it.
//! (docs: point-in-time-api.html; searching with `pit` is in search.rs)
//!
//! The id is self-contained (cursor.rs): the indices, each with the highest `_seq_no` visible when
//! the point in time was opened, and a deadline. Searches with it see that snapshot.

use super::cursor::{self, PitState};
use super::search::{self, check_params};
use super::{ApiResult, Params, parse_body};
use crate::error::EsError;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};

const OPEN_PARAMS: &[&str] = &[
    "keep_alive",
    "routing",
    "preference",
    "ignore_unavailable",
    "expand_wildcards",
    "allow_no_indices",
    "allow_partial_search_results",
    "max_concurrent_shard_requests",
];

pub async fn open(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    check_params(uri.path(), &p, OPEN_PARAMS)?;
    for name in [
        "ignore_unavailable",
        "allow_no_indices",
        "allow_partial_search_results",
    ] {
        super::flag(&p, name)?;
    }
    let keep_alive = match p.get("keep_alive") {
        Some(v) => cursor::parse_time_value(v, "keep_alive")?,
        None => {
            return Err(EsError::action_request_validation(
                "Validation Failed: 1: [keep_alive] is not specified;",
            ));
        }
    };
    if let Some(Value::Object(m)) = parse_body(&body)?
        && let Some((k, v)) = m.iter().next()
    {
        // An index_filter would need evaluating per index: not there yet.
        if k == "index_filter" {
            return Err(EsError::unsupported("point in time [index_filter]"));
        }
        return Err(EsError::x_content_parse(format!(
            "[open_point_in_time] unknown field [{k}] with value [{v}]"
        )));
    }
    let metas = s
        .catalog
        .resolve(&index, super::indices::resolve_options(&p)?)
        .await?;
    let snap = search::snapshot(&s, &metas).await?;
    let n = snap.len();
    let state = PitState {
        v: 1,
        ctx: cursor::new_context_id(),
        idx: snap,
        exp: cursor::now_millis() + keep_alive,
    };
    Ok(super::ok(json!({
        "id": state.encode(),
        "_shards": {"total": n, "successful": n, "skipped": 0, "failed": 0}
    }))
    .into_response())
}

pub async fn close(
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    check_params(uri.path(), &p, &[])?;
    let id = match parse_body(&body)? {
        Some(Value::Object(m)) => {
            if let Some(k) = m.keys().find(|k| k.as_str() != "id") {
                return Err(EsError::illegal_argument(format!(
                    "Unknown parameter [{k}] in request body or parameter is of the wrong type[VALUE_STRING] "
                )));
            }
            m.get("id").and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    };
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: reader id must be specified;",
        ));
    };
    let state = PitState::decode(&id)?;
    // Nothing is held server-side; an expired point in time frees nothing (docs/search.md).
    let num_freed = if state.exp >= cursor::now_millis() {
        state.idx.len()
    } else {
        0
    };
    Ok(super::ok(json!({"succeeded": true, "num_freed": num_freed})).into_response())
}
