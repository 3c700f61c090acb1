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
//! The daemon that runs a search keeps it in memory; once its id is handed out, its state is also
//! kept in ClickHouse (`{database}_async.async_search`) so that every daemon can answer for it
//! (docs/kibana.md "Async search").

use super::search::{self, SEARCH_PARAMS, check_params};
use super::{ApiResult, EsJson, Params, flag};
use crate::error::EsError;
use crate::server::AppState;
use crate::sql;
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
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// Parameters of the submit API beyond `_search`'s.
const SUBMIT_PARAMS: &[&str] = &[
    "wait_for_completion_timeout",
    "keep_on_completion",
    "keep_alive",
];
/// RestGetAsyncSearchAction's parameters; Kibana's ese strategy sends `return_intermediate_results`
/// (false) on every poll. We never return partial results of a running search, so both values
/// give what Elasticsearch gives for `false`.
const GET_PARAMS: &[&str] = &[
    "wait_for_completion_timeout",
    "keep_alive",
    "typed_keys",
    "return_intermediate_results",
];
const DEFAULT_KEEP_ALIVE_MS: i64 = 5 * 24 * 3_600_000;

/// Marks our ids (`AsyncExecutionId` encodes a document id and a task id; ours is a random key).
const ID_PREFIX: &[u8] = b"EHas";

/// One submitted search.
struct Entry {
    key: String,
    start: i64,
    expiration: Arc<AtomicI64>,
    shards: usize,
    /// Completion time and outcome (the search response JSON, or its error), set by the task.
    outcome: Slot,
    /// The id was handed out: the state is also kept in ClickHouse for the other daemons.
    handed_out: Arc<AtomicBool>,
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
/// Whether `id` is an async-search id elastichouse issued.
pub fn is_own_id(id: &str) -> bool {
    decode_id(id).is_ok()
}

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

/// This daemon's searches: the memory map is per process, and a test process may run several
/// daemons, so keys carry the daemon's identity.
fn local_key(s: &AppState, key: &str) -> String {
    format!("{:x}:{key}", &**s as *const crate::server::Inner as usize)
}

fn lookup(s: &AppState, id: &str) -> Result<Arc<Entry>, EsError> {
    let key = decode_id(id)?;
    sweep();
    store()
        .lock()
        .get(&local_key(s, &key))
        .cloned()
        .ok_or_else(|| not_found(id))
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
fn running_response(e: &View) -> String {
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

/// A search's state, from this daemon's memory or from the ClickHouse store.
struct View {
    start: i64,
    expiration: i64,
    shards: usize,
    outcome: Option<(i64, Result<String, EsError>)>,
}

impl View {
    fn of(e: &Entry) -> View {
        View {
            start: e.start,
            expiration: e.expiration.load(Ordering::SeqCst),
            shards: e.shards,
            outcome: e.outcome.lock().clone(),
        }
    }
}

/// AsyncSearchResponse#toXContent and #status for the state `e`.
fn render(e: &View, id: Option<&str>) -> Result<axum::response::Response, EsError> {
    let outcome = e.outcome.clone();
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
                expiration_time_in_millis: e.expiration,
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
                expiration_time_in_millis: e.expiration,
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
                expiration_time_in_millis: e.expiration,
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
    let handed_out = Arc::new(AtomicBool::new(false));
    let expiration = Arc::new(AtomicI64::new(start + keep_alive));
    let task = {
        let s = s.clone();
        let slot = slot.clone();
        let handed_out = handed_out.clone();
        let expiration = expiration.clone();
        let key = key.clone();
        tokio::spawn(crate::security::inherit(crate::clickhouse::with_query_tag(
            key.clone(),
            async move {
                let out = search::run_search(&s, expr.as_deref(), &p, &req, &folded).await;
                let done = (now(), out);
                *slot.lock() = Some(done.clone());
                let _ = tx.send(true);
                if handed_out.load(Ordering::SeqCst) {
                    let row = Row::of(
                        &key,
                        start,
                        expiration.load(Ordering::SeqCst),
                        shards,
                        Some(&done),
                    );
                    persist(&s, row).await;
                }
            },
        )))
    };
    let entry = Arc::new(Entry {
        key: key.clone(),
        start,
        expiration,
        shards,
        outcome: slot,
        handed_out,
        done: rx,
        task: task.abort_handle(),
    });
    sweep();
    store().lock().insert(local_key(&s, &key), entry.clone());
    tracing::info!(async_id = %id, key = %key, wait_ms, keep_alive, "async search submitted");
    wait(&entry, wait_ms).await;
    let stored = entry.is_running() || keep_on_completion;
    if !stored {
        forget(&s, &key);
        return render(&View::of(&entry), None);
    }
    // From here on other daemons may be asked about this id: keep its state in ClickHouse too.
    entry.handed_out.store(true, Ordering::SeqCst);
    cleanup_now_and_then(&s);
    let view = View::of(&entry);
    let row = Row::of(&key, start, view.expiration, shards, view.outcome.as_ref());
    persist(&s, row).await;
    render(&view, Some(id.as_str()))
}

type Slot = Arc<Mutex<Option<(i64, Result<String, EsError>)>>>;

fn forget(s: &AppState, key: &str) {
    store().lock().remove(&local_key(s, key));
}

// ---------------------------------------------------------------------------------------------
// The ClickHouse store: handed-out searches, readable by every daemon
// ---------------------------------------------------------------------------------------------

/// The table lives in its own database (`{database}_async`) so that it is never listed as an index.
const STORE_TABLE: &str = "async_search";

fn store_db(s: &AppState) -> sql::Ident {
    sql::Ident::new(format!("{}_async", s.ch.database))
}

/// One state of one search; the highest `version` wins (ReplacingMergeTree).
#[derive(Serialize, serde::Deserialize, Debug)]
struct Row {
    key: String,
    /// 1 running, 2 done, 3 deleted.
    version: u64,
    start: i64,
    expiration: i64,
    completion: i64,
    shards: u64,
    /// HTTP status of a failed search (0: none).
    status: u64,
    /// The search response JSON, or the error's `{type, reason, …}` JSON.
    body: String,
}

impl Row {
    fn of(
        key: &str,
        start: i64,
        expiration: i64,
        shards: usize,
        outcome: Option<&(i64, Result<String, EsError>)>,
    ) -> Row {
        let (version, completion, status, body) = match outcome {
            None => (1, 0, 0, String::new()),
            Some((at, Ok(text))) => (2, *at, 0, text.clone()),
            Some((at, Err(e))) => (2, *at, u64::from(e.status), e.body().to_string()),
        };
        Row {
            key: key.to_string(),
            version,
            start,
            expiration,
            completion,
            shards: shards as u64,
            status,
            body,
        }
    }

    fn view(&self) -> View {
        let outcome = match (self.version, self.status) {
            (1, _) => None,
            (_, 0) => Some((self.completion, Ok(self.body.clone()))),
            (_, status) => {
                let v: Value = serde_json::from_str(&self.body).unwrap_or(json!({}));
                let kind = v["type"].as_str().unwrap_or("exception").to_string();
                let reason = v["reason"].as_str().unwrap_or("").to_string();
                let mut e = EsError::new(status as u16, kind, reason);
                if let Value::Object(m) = v {
                    for (k, x) in m {
                        if k != "type" && k != "reason" {
                            e = e.with(&k, x);
                        }
                    }
                }
                Some((self.completion, Err(e)))
            }
        };
        View {
            start: self.start,
            expiration: self.expiration,
            shards: self.shards as usize,
            outcome,
        }
    }
}

async fn ensure_store(s: &AppState) -> Result<(), crate::clickhouse::ChError> {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_try_init(|| async {
            s.ch.execute(&sql::CreateDatabase {
                if_not_exists: true,
                name: store_db(s),
            })
            .await?;
            let mut t = sql::CreateTable::new(
                store_db(s),
                sql::Ident::new(STORE_TABLE),
                sql::Engine::ReplacingMergeTree {
                    version: Some(sql::Ident::new("version")),
                    is_deleted: None,
                },
            );
            t.if_not_exists = true;
            for (name, ty) in [
                ("key", sql::ChType::String),
                ("version", sql::ChType::UInt64),
                ("start", sql::ChType::Int64),
                ("expiration", sql::ChType::Int64),
                ("completion", sql::ChType::Int64),
                ("shards", sql::ChType::UInt64),
                ("status", sql::ChType::UInt64),
                ("body", sql::ChType::String),
            ] {
                t.columns.push(sql::ColumnDef::new(name, ty));
            }
            t.order_by = vec![sql::col("key")];
            s.ch.execute(&t).await
        })
        .await
        .map(|_| ())
}

/// `DELETE FROM … WHERE …` (a lightweight delete) of expired rows.
struct DeleteExpired {
    db: sql::Ident,
    cutoff: i64,
}

impl std::fmt::Display for DeleteExpired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DELETE FROM {}.{} WHERE {}",
            self.db,
            sql::Ident::new(STORE_TABLE),
            sql::col("expiration").lt(sql::lit(self.cutoff))
        )
    }
}

/// At most once an hour per daemon, removes the rows of searches that expired (in the background).
fn cleanup_now_and_then(s: &AppState) {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let t = now();
    let last = LAST.load(Ordering::SeqCst);
    if t - last < 3_600_000
        || LAST
            .compare_exchange(last, t, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return;
    }
    let s = s.clone();
    tokio::spawn(async move {
        if ensure_store(&s).await.is_err() {
            return;
        }
        let stmt = DeleteExpired {
            db: store_db(&s),
            cutoff: t,
        };
        if let Err(e) = s.ch.execute(&stmt).await {
            tracing::warn!(error = %e, "cannot remove expired async searches");
        }
    });
}

/// Writes one state; failures only cost other daemons their view of this search.
async fn persist(s: &AppState, row: Row) {
    let r = async {
        ensure_store(s).await?;
        let insert = sql::Insert {
            db: store_db(s),
            table: sql::Ident::new(STORE_TABLE),
            columns: vec![],
            format: "JSONEachRow",
        };
        let mut line = serde_json::to_vec(&row).unwrap_or_default();
        line.push(b'\n');
        s.ch.insert(&insert, line.into(), 1).await
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(key = %row.key, error = %e, "cannot keep the async search in ClickHouse");
    }
}

/// The latest state of a search in the store (`None`: unknown, deleted or expired).
async fn load(s: &AppState, key: &str) -> Option<Row> {
    if ensure_store(s).await.is_err() {
        return None;
    }
    let q = sql::Select {
        items: [
            "key",
            "version",
            "start",
            "expiration",
            "completion",
            "shards",
            "status",
            "body",
        ]
        .into_iter()
        .map(|c| sql::col(c).into())
        .collect(),
        from: Some(sql::FromClause::table(
            store_db(s),
            sql::Ident::new(STORE_TABLE),
        )),
        rows: sql::Rows::Final,
        where_: Some(sql::col("key").eq(sql::lit(key))),
        limit: Some(1),
        ..Default::default()
    };
    let rows = match s.ch.query_rows(&q).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(key, error = %e, "cannot read the async search store");
            return None;
        }
    };
    let row: Row = serde_json::from_value(Value::Object(rows.into_iter().next()?)).ok()?;
    (row.version < 3 && row.expiration > now()).then_some(row)
}

/// A search of this daemon, or one another daemon handed out.
enum Found {
    Local(Arc<Entry>),
    Remote(Row),
}

async fn find(s: &AppState, id: &str) -> Result<Found, EsError> {
    let key = decode_id(id)?;
    if let Ok(e) = lookup(s, id) {
        return Ok(Found::Local(e));
    }
    load(s, &key)
        .await
        .map(Found::Remote)
        .ok_or_else(|| not_found(id))
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
    State(s): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, GET_PARAMS)?;
    flag(&p, "typed_keys")?;
    let wait_ms = time_param(&p, "wait_for_completion_timeout")?.unwrap_or(-1);
    let keep_alive = time_param(&p, "keep_alive")?;
    if let Some(ka) = keep_alive
        && ka < 1000
    {
        return Err(EsError::action_request_validation(format!(
            "Validation Failed: 1: [keep_alive] must be greater than 1 second, got:{};",
            p.get("keep_alive").map(String::as_str).unwrap_or("")
        )));
    }
    match find(&s, &id).await? {
        Found::Local(e) => {
            if let Some(ka) = keep_alive {
                e.expiration.store(now() + ka, Ordering::SeqCst);
            }
            wait(&e, wait_ms).await;
            let view = View::of(&e);
            if keep_alive.is_some() && e.handed_out.load(Ordering::SeqCst) {
                let row = Row::of(
                    &e.key,
                    e.start,
                    view.expiration,
                    e.shards,
                    view.outcome.as_ref(),
                );
                persist(&s, row).await;
            }
            render(&view, Some(&id))
        }
        Found::Remote(mut row) => {
            // Another daemon runs it: poll the store until it is done or the wait is over.
            let key = row.key.clone();
            let deadline = now() + wait_ms.max(0);
            while row.version == 1 && now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match load(&s, &key).await {
                    Some(r) => row = r,
                    None => return Err(not_found(&id)),
                }
            }
            if let Some(ka) = keep_alive {
                row.expiration = now() + ka;
                let view = row.view();
                persist(&s, row).await;
                return render(&view, Some(&id));
            }
            render(&row.view(), Some(&id))
        }
    }
}

/// `GET /_async_search/status/{id}` (AsyncStatusResponse#toXContent).
pub async fn status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, &["keep_alive"])?;
    let e = match find(&s, &id).await? {
        Found::Local(e) => View::of(&e),
        Found::Remote(row) => row.view(),
    };
    let outcome = e.outcome.clone();
    let mut v = json!({
        "id": id,
        "is_running": outcome.is_none(),
        "is_partial": !matches!(outcome, Some((_, Ok(_)))),
        "start_time_in_millis": e.start,
        "expiration_time_in_millis": e.expiration,
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

/// `DELETE /_async_search/{id}`: stops the search (and its ClickHouse statements) and forgets it,
/// here and in the store. Another daemon's search is stopped through ClickHouse only.
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<Params>,
) -> ApiResult {
    check_params(uri.path(), &p, &[])?;
    let (key, start, shards, was_running, handed_out) = match find(&s, &id).await? {
        Found::Local(e) => {
            let running = e.is_running();
            e.task.abort();
            forget(&s, &e.key);
            (
                e.key.clone(),
                e.start,
                e.shards,
                running,
                e.handed_out.load(Ordering::SeqCst),
            )
        }
        Found::Remote(row) => (
            row.key.clone(),
            row.start,
            row.shards as usize,
            row.version == 1,
            true,
        ),
    };
    if handed_out {
        let mut row = Row::of(&key, start, now(), shards, None);
        row.version = 3;
        persist(&s, row).await;
    }
    if was_running && let Err(err) = s.ch.kill_tagged(&key).await {
        tracing::warn!(async_id = %id, error = %err, "KILL QUERY of a cancelled async search failed");
    }
    tracing::info!(async_id = %id, was_running, "async search deleted");
    Ok(super::ok(json!({"acknowledged": true})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_expiry_delete_renders() {
        let key = [7u8; 16];
        let id = encode_id(&key);
        assert_eq!(decode_id(&id).unwrap(), hex(&key));
        assert_eq!(decode_id("abc").unwrap_err().reason, "invalid id: [abc]");
        let del = DeleteExpired {
            db: sql::Ident::new("eh_async"),
            cutoff: 5,
        };
        assert_eq!(
            del.to_string(),
            "DELETE FROM `eh_async`.`async_search` WHERE `expiration` < 5"
        );
    }
}
