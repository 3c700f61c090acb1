//! The scroll API: `POST /_search/scroll` (and `GET`, and the `/_search/scroll/{id}` form) returns
//! the next page of a scrolled search; `DELETE /_search/scroll` clears ids.
//! (docs: scroll-api.html, clear-scroll-api.html, paginate-search-results.html#scroll-search-results)
//!
//! The id is self-contained (cursor.rs): the request, its indices with their snapshot bounds, the
//! sort values of the last hit returned and a deadline. Each page is one `search_after`-style query
//! for the next `size` rows: nothing is held in memory between pages.

use super::cursor::{self, ScrollState};
use super::search::{self, ExecOptions, check_params};
use super::{ApiResult, Params, parse_body};
use crate::error::EsError;
use crate::render::fields::token_name;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

const SCROLL_PARAMS: &[&str] = &["scroll", "scroll_id", "rest_total_hits_as_int"];

/// `scroll` and `scroll_id` from the body (or URL), RestSearchScrollAction style.
fn read_request(
    p: &Params,
    body: &Bytes,
    path_id: Option<String>,
) -> Result<(String, Option<i64>), EsError> {
    let mut id = path_id.or_else(|| p.get("scroll_id").cloned());
    let mut keep_alive = match p.get("scroll") {
        Some(s) => Some(cursor::parse_time_value(s, "scroll")?),
        None => None,
    };
    match parse_body(body) {
        Ok(Some(Value::Object(m))) => {
            for (k, v) in m {
                match (k.as_str(), &v) {
                    ("scroll_id", Value::String(s)) => id = Some(s.clone()),
                    ("scroll", v) => keep_alive = Some(cursor::time_value_json(v, "scroll")?),
                    (other, v) => {
                        return Err(EsError::illegal_argument(format!(
                            "Unknown parameter [{other}] in request body or parameter is of the wrong type[{}] ",
                            token_name(v)
                        )));
                    }
                }
            }
        }
        Ok(Some(_)) => return Err(EsError::parsing("request body must be an object")),
        Ok(None) => {}
        // A plain-text body is the scroll id itself (old clients do this).
        Err(_) => {
            let text = String::from_utf8_lossy(body).trim().to_string();
            if !text.is_empty() {
                id = Some(text);
            }
        }
    }
    let id = id.ok_or_else(|| {
        EsError::action_request_validation("Validation Failed: 1: scrollId is missing;")
    })?;
    Ok((id, keep_alive))
}

async fn next_page(
    s: AppState,
    path: &str,
    p: Params,
    body: Bytes,
    id: Option<String>,
) -> ApiResult {
    check_params(path, &p, SCROLL_PARAMS)?;
    let (id, keep_alive) = read_request(&p, &body, id)?;
    let state = ScrollState::decode(&id)?;
    let now = cursor::now_millis();
    if state.exp < now {
        return Err(cursor::context_missing(state.ctx));
    }
    let (metas, bounds) = search::cursor_indices(&s, &state.idx, state.ctx).await?;
    let mut req = search::parse_body_value(&state.body, &Params::new())?;
    req.scroll = None;
    req.search_after = None;
    req.from = 0;
    req.total_as_int = state.int_total || super::flag(&p, "rest_total_hits_as_int")?;
    let done = state.done;
    let out = if done {
        // The previous page was the last one: stay at the end.
        req.size = 0;
        search::execute(
            &s,
            &metas,
            &req,
            &ExecOptions {
                bounds,
                scroll: true,
                known_total: Some(state.total),
                ..Default::default()
            },
        )
        .await?
    } else {
        search::execute(
            &s,
            &metas,
            &req,
            &ExecOptions {
                bounds,
                scroll: true,
                scroll_after: state.after.clone(),
                known_total: Some(state.total),
                ..Default::default()
            },
        )
        .await?
    };
    let next = ScrollState {
        after: if out.hit_count > 0 {
            out.last_internal.clone()
        } else {
            state.after.clone()
        },
        seen: state.seen + out.hit_count as u64,
        done: done || out.hit_count == 0,
        // Each scroll request extends the context by its own `scroll` value.
        exp: keep_alive.map(|k| now + k).unwrap_or(state.exp),
        ..state
    };
    let text = out.render(Some(&next.encode()), None)?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

pub async fn scroll(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    next_page(s, uri.path(), p, body, None).await
}

pub async fn scroll_with_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    next_page(s, uri.path(), p, body, Some(id)).await
}

/// How many "contexts" an id would free: one per index while it is alive, none once expired
/// (nothing is held server-side; see docs/search.md).
fn freed(id: &str) -> Result<u64, EsError> {
    let st = ScrollState::decode(id)?;
    Ok(if st.exp >= cursor::now_millis() {
        st.idx.len() as u64
    } else {
        0
    })
}

async fn clear(path: &str, p: Params, body: Bytes, ids_in_path: Option<String>) -> ApiResult {
    check_params(path, &p, &[])?;
    let mut ids: Vec<String> = ids_in_path
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if let Ok(Some(v)) = parse_body(&body) {
        match v.get("scroll_id") {
            Some(Value::String(s)) => ids.push(s.clone()),
            Some(Value::Array(a)) => {
                ids.extend(a.iter().filter_map(Value::as_str).map(str::to_string))
            }
            Some(other) => {
                return Err(EsError::illegal_argument(format!(
                    "Unknown parameter [scroll_id] in request body or parameter is of the wrong type[{}] ",
                    token_name(other)
                )));
            }
            None => {}
        }
        if let Value::Object(m) = &v
            && let Some(k) = m.keys().find(|k| k.as_str() != "scroll_id")
        {
            return Err(EsError::illegal_argument(format!(
                "Unknown parameter [{k}] in request body or parameter is of the wrong type[{}] ",
                token_name(&m[k])
            )));
        }
    }
    if ids.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: no scroll ids specified;",
        ));
    }
    let mut num_freed = 0;
    for id in &ids {
        if id == "_all" {
            continue;
        }
        num_freed += freed(id)?;
    }
    Ok(super::ok(json!({"succeeded": true, "num_freed": num_freed})).into_response())
}

pub async fn clear_scroll(
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    clear(uri.path(), p, body, None).await
}

pub async fn clear_scroll_ids(
    Path(ids): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    clear(uri.path(), p, body, Some(ids)).await
}
