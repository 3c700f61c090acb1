//! Async search: `POST /{index}/_async_search` and `/_async_search` submit a search that runs in
//! the background (a tokio task); `GET /_async_search/{id}` polls it, `GET /_async_search/status/{id}`
//! reports its state, `DELETE /_async_search/{id}` cancels and forgets it. Kibana runs every Discover,
//! Lens and dashboard search this way.
//!
//! Behaviour learnt from elastic/elasticsearch 8.x x-pack/plugin/async-search:
//! `RestSubmitAsyncSearchAction` / `SubmitAsyncSearchRequest` (wait_for_completion_timeout default 1s,
//! keep_on_completion default false, keep_alive default 5d and at least 1s, `scroll` not allowed),
//! `AsyncSearchResponse#toXContent` (`id` only while the search is stored, `is_partial`,
//! `is_running`, start/expiration/completion times, `response`, `error`), `AsyncStatusResponse`
//! (`_shards`, `completion_status`), `TransportGetAsyncSearchAction` (keep_alive extends the expiry;
//! unknown or expired ids are a 404 `resource_not_found_exception` whose reason is the id) and
//! `AsyncExecutionId#decode` (a malformed id is `invalid id: [..]`).
//!
//! The search itself is `search::run_search`, unchanged. Every ClickHouse statement it issues carries
//! the search's tag at the end of its `query_id` (`clickhouse::with_query_tag`), so `DELETE` stops the
//! task and, on a ClickHouse server, sends `KILL QUERY WHERE endsWith(query_id, '-tag')`.
//!
//! Known limit (docs/kibana.md): results are kept in this daemon's memory until they expire; another
//! daemon behind the same load balancer answers 404 for them.

use super::search::{self, SEARCH_PARAMS, check_params};
use super::{ApiResult, EsJson, Params, flag};
use crate::error::EsError;
use crate::server::AppState;
use crate::sql::{self, Expr};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// Parameters of the submit API beyond `_search`'s.
const SUBMIT_PARAMS: &[&str] = &[
    "wait_for_completion_timeout",
    "keep_on_completion",
    "keep_alive",
];
const GET_PARAMS: &[&str] = &["wait_for_completion_timeout", "keep_alive", "typed_keys"];
const DEFAULT_KEEP_ALIVE_MS: i64 = 5 * 24 * 3_600_000;

/// Marks our ids (`AsyncExecutionId` encodes a document id and a task id; ours is a random key).
const ID_PREFIX: &[u8] = b"EHas";

/// One submitted search.
struct Entry {
    key: String,
    start: i64,
    expiration: AtomicI64,
    shards: usize,
    /// Completion time and outcome (the search response JSON, or its error), set by the task.
    outcome: Slot,
    done: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
}

impl Entry {
    fn is_running(&self) -> bool {
        !*self.done.borrow()
    }
}

fn store() -> &'static Mutex<HashMap<String, Arc<Entry>>> {
    static STORE: OnceLock<Mutex<HashMap<String, Arc<Entry>>>> = OnceLock::new();
    STORE.get_or_init(Default::default)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Forgets expired searches (stopping those still running).
fn sweep() {
    let t = now();
    store().lock().retain(|_, e| {
        let keep = e.expiration.load(Ordering::SeqCst) > t;
        if !keep {
            e.task.abort();
        }
        keep
    });
}

fn encode_id(key: &[u8]) -> String {
    let mut raw = ID_PREFIX.to_vec();
    raw.extend_from_slice(key);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The store key of an id, or Elasticsearch's error for a malformed one.
fn decode_id(id: &str) -> Result<String, EsError> {
    let cleaned: String = id
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    match URL_SAFE_NO_PAD.decode(cleaned) {
        Ok(raw) if raw.len() == ID_PREFIX.len() + 16 && raw.starts_with(ID_PREFIX) => {
            Ok(hex(&raw[ID_PREFIX.len()..]))
        }
        _ => Err(EsError::illegal_argument(format!("invalid id: [{id}]"))),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn not_found(id: &str) -> EsError {
    EsError::new(404, "resource_not_found_exception", id)
}

fn lookup(id: &str) -> Result<Arc<Entry>, EsError> {
    let key = decode_id(id)?;
    sweep();
    store()
        .lock()
        .get(&key)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// `KILL QUERY` for every statement of one tagged search.
struct KillQuery(Expr);

impl std::fmt::Display for KillQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KILL QUERY WHERE {} ASYNC", self.0)
    }
}

fn time_param(p: &Params, name: &str) -> Result<Option<i64>, EsError> {
    p.get(name)
        .map(|v| super::cursor::parse_time_value(v, name))
        .transpose()
}

#[derive(Serialize)]
struct AsyncResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    is_partial: bool,
    is_running: bool,
    start_time_in_millis: i64,
    expiration_time_in_millis: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_time_in_millis: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

/// The partial response of a search that is still running: no hits reduced yet.
fn running_response(e: &Entry) -> String {
    json!({
        "took": now() - e.start,
        "timed_out": false,
        "terminated_early": false,
        "num_reduce_phases": 0,
        "_shards": {"total": e.shards, "successful": 0, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 0, "relation": "gte"}, "max_score": null, "hits": []}
    })
    .to_string()
}

/// AsyncSearchResponse#toXContent and #status for the current state of `e`.
fn render(e: &Entry, id: Option<&str>) -> Result<axum::response::Response, EsError> {
    let outcome = e.outcome.lock().clone();
    let (body, status) = match &outcome {
        None => {
            let partial = running_response(e);
            let raw =
                RawValue::from_string(partial).map_err(|x| EsError::storage(x.to_string()))?;
            let r = AsyncResponse {
                id,
                is_partial: true,
                is_running: true,
                start_time_in_millis: e.start,
                expiration_time_in_millis: e.expiration.load(Ordering::SeqCst),
                completion_time_in_millis: None,
                response: Some(&raw),
                error: None,
            };
            (serde_json::to_string(&r), StatusCode::OK)
        }
        Some((done_at, Ok(text))) => {
            let raw =
                RawValue::from_string(text.clone()).map_err(|x| EsError::storage(x.to_string()))?;
            let r = AsyncResponse {
                id,
                is_partial: false,
                is_running: false,
                start_time_in_millis: e.start,
                expiration_time_in_millis: e.expiration.load(Ordering::SeqCst),
                completion_time_in_millis: Some(*done_at),
                response: Some(&raw),
                error: None,
            };
            (serde_json::to_string(&r), StatusCode::OK)
        }
        Some((done_at, Err(err))) => {
            let r = AsyncResponse {
                id,
                is_partial: true,
                is_running: false,
                start_time_in_millis: e.start,
                expiration_time_in_millis: e.expiration.load(Ordering::SeqCst),
                completion_time_in_millis: Some(*done_at),
                response: None,
                error: Some(err.body()),
            };
            (
                serde_json::to_string(&r),
                StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
        }
    };
    let body = body.map_err(|x| EsError::storage(x.to_string()))?;
    Ok((
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Waits up to `ms` for the search to finish.
async fn wait(e: &Entry, ms: i64) {
    if ms <= 0 || !e.is_running() {
        return;
    }
    let mut rx = e.done.clone();
    let _ = tokio::time::timeout(Duration::from_millis(ms as u64), rx.wait_for(|d| *d)).await;
}

async fn submit_impl(
    s: AppState,
    expr: Option<String>,
    path: &str,
    p: Params,
    body: Bytes,
) -> ApiResult {
    let known: Vec<&str> = SEARCH_PARAMS.iter().chain(SUBMIT_PARAMS).copied().collect();
    check_params(path, &p, &known)?;
    search::check_accepted_params(&p)?;
    let wait_ms = time_param(&p, "wait_for_completion_timeout")?.unwrap_or(1000);
    let keep_alive = time_param(&p, "keep_alive")?.unwrap_or(DEFAULT_KEEP_ALIVE_MS);
    let keep_on_completion = flag(&p, "keep_on_completion")?;
    let body = search::body_or_source(&body, &p)?;
    let (req, folded) = search::parse_request(body.as_ref(), &p, expr.is_some())?;
    // SubmitAsyncSearchRequest#validate.
    let mut errors = Vec::new();
    if req.scroll.is_some() || p.contains_key("scroll") {
        errors.push("[scroll] not allowed".to_string());
    }
    if keep_alive < 1000 {
        errors.push(format!(
            "[keep_alive] must be greater or equal than 1 second, got:{}",
            p.get("keep_alive").map(String::as_str).unwrap_or("")
        ));
    }
    if !errors.is_empty() {
        let mut msg = "Validation Failed: ".to_string();
        for (i, e) in errors.iter().enumerate() {
            msg.push_str(&format!("{}: {e};", i + 1));
        }
        return Err(EsError::action_request_validation(msg));
    }
    // Shards for the partial response; a resolution error shows in the search's outcome.
    let shards = match &req.pit {
        Some(_) => 0,
        None => s
            .catalog
            .resolve(
                expr.as_deref().unwrap_or("*"),
                super::indices::resolve_options(&p)?,
            )
            .await
            .map(|m| m.len())
            .unwrap_or(0),
    };
    let raw_key: [u8; 16] = rand::random();
    let key = hex(&raw_key);
    let id = encode_id(&raw_key);
    let start = now();
    let (tx, rx) = watch::channel(false);
    let slot: Slot = Arc::new(Mutex::new(None));
    let task = {
        let s = s.clone();
        let slot = slot.clone();
        let tag = key.clone();
        tokio::spawn(crate::clickhouse::with_query_tag(tag, async move {
            let out = search::run_search(&s, expr.as_deref(), &p, &req, &folded).await;
            *slot.lock() = Some((now(), out));
            let _ = tx.send(true);
        }))
    };
    let entry = Arc::new(Entry {
        key: key.clone(),
        start,
        expiration: AtomicI64::new(start + keep_alive),
        shards,
        outcome: slot,
        done: rx,
        task: task.abort_handle(),
    });
    sweep();
    store().lock().insert(key.clone(), entry.clone());
    tracing::info!(async_id = %id, key = %key, wait_ms, keep_alive, "async search submitted");
    wait(&entry, wait_ms).await;
    let stored = entry.is_running() || keep_on_completion;
    if !stored {
        forget(&key);
    }
    render(&entry, stored.then_some(id.as_str()))
}

type Slot = Arc<Mutex<Option<(i64, Result<String, EsError>)>>>;

fn forget(key: &str) {
    store().lock().remove(key);
}

pub async fn submit(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    submit_impl(s, Some(index), uri.path(), p, body).await
}

pub async fn submit_all(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    submit_impl(s, None, uri.path(), p, body).await
}

/// `GET /_async_search/{id}`
pub async fn get(
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, GET_PARAMS)?;
    flag(&p, "typed_keys")?;
    let wait_ms = time_param(&p, "wait_for_completion_timeout")?.unwrap_or(-1);
    let keep_alive = time_param(&p, "keep_alive")?;
    let e = lookup(&id)?;
    if let Some(ka) = keep_alive {
        if ka < 1000 {
            return Err(EsError::action_request_validation(format!(
                "Validation Failed: 1: [keep_alive] must be greater than 1 second, got:{};",
                p.get("keep_alive").map(String::as_str).unwrap_or("")
            )));
        }
        e.expiration.store(now() + ka, Ordering::SeqCst);
    }
    wait(&e, wait_ms).await;
    render(&e, Some(&id))
}

/// `GET /_async_search/status/{id}` (AsyncStatusResponse#toXContent).
pub async fn status(
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, &["keep_alive"])?;
    let e = lookup(&id)?;
    let outcome = e.outcome.lock().clone();
    let mut v = json!({
        "id": id,
        "is_running": outcome.is_none(),
        "is_partial": !matches!(outcome, Some((_, Ok(_)))),
        "start_time_in_millis": e.start,
        "expiration_time_in_millis": e.expiration.load(Ordering::SeqCst),
    });
    let m = v.as_object_mut().expect("object");
    match &outcome {
        None => {
            m.insert(
                "_shards".into(),
                json!({"total": e.shards, "successful": 0, "skipped": 0, "failed": 0}),
            );
        }
        Some((done_at, Ok(text))) => {
            m.insert("completion_time_in_millis".into(), json!(done_at));
            let shards = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|r| r.get("_shards").cloned())
                .unwrap_or(json!({}));
            m.insert("_shards".into(), shards);
            m.insert("completion_status".into(), json!(200));
        }
        Some((done_at, Err(err))) => {
            m.insert("completion_time_in_millis".into(), json!(done_at));
            m.insert(
                "_shards".into(),
                json!({"total": e.shards, "successful": 0, "skipped": 0, "failed": e.shards}),
            );
            m.insert("completion_status".into(), json!(err.status));
            m.insert("error".into(), err.body());
        }
    }
    Ok(EsJson(StatusCode::OK, v).into_response())
}

/// `DELETE /_async_search/{id}`: stops the search (and its ClickHouse statements) and forgets it.
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, &[])?;
    let e = lookup(&id)?;
    let was_running = e.is_running();
    e.task.abort();
    forget(&e.key);
    // The embedded engine runs one statement at a time and does not track query ids, so a KILL
    // would only queue behind the statement it means to stop: there the aborted task is all.
    if was_running && s.ch.embedded.is_none() {
        let kill = KillQuery(Expr::func(
            "endsWith",
            vec![
                sql::col("query_id"),
                sql::lit(format!("-{}", e.key).as_str()),
            ],
        ));
        if let Err(err) = s.ch.execute(&kill).await {
            tracing::warn!(async_id = %id, error = %err, "KILL QUERY of a cancelled async search failed");
        }
    }
    tracing::info!(async_id = %id, was_running, "async search deleted");
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_kill_renders() {
        let key = [7u8; 16];
        let id = encode_id(&key);
        assert_eq!(decode_id(&id).unwrap(), hex(&key));
        assert_eq!(decode_id("abc").unwrap_err().reason, "invalid id: [abc]");
        let kill = KillQuery(Expr::func(
            "endsWith",
            vec![sql::col("query_id"), sql::lit("-ab'c")],
        ));
        assert_eq!(
            kill.to_string(),
            "KILL QUERY WHERE endsWith(`query_id`, '-ab\\'c') ASYNC"
        );
    }
}
