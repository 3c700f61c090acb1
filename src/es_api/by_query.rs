//! `POST /{index}/_delete_by_query` and `POST /{index}/_update_by_query` (and the engine of
//! `_reindex`, src/es_api/reindex.rs).
//!
//! Elasticsearch runs these as a scroll over the matching documents and a bulk request per batch
//! (AbstractAsyncBulkByScrollAction). Here the batches are read straight from the table with the
//! query's WHERE (the same planner as `_search` and `_count`), in `_seq_no` order and bounded by
//! the newest `_seq_no` at the start (a snapshot: documents written by the operation itself are
//! not visited again), and each batch is written through the normal write path
//! (src/ingest/write.rs): one lookup, one INSERT and one commit UPDATE per batch, each operation
//! conditional on the `_seq_no` it was read with, so a document changed in between is a
//! `version_conflict` exactly as in Elasticsearch.
//!
//! The response is BulkByScrollResponse (took, timed_out, total, updated/created/deleted,
//! batches, version_conflicts, noops, retries, throttled_*, requests_per_second, failures);
//! `wait_for_completion=false` answers `{"task": "node:id"}` (src/es_api/tasks.rs).
//! References: docs-delete-by-query.html, docs-update-by-query.html, RestDeleteByQueryAction,
//! RestUpdateByQueryAction, AbstractBulkByScrollRequest, BulkByScrollTask.Status.

use super::update_script::{Op, SOURCE_KEY, UpdateScript};
use super::{ApiResult, EsJson, Params, flag, parse_body};
use crate::catalog::{COL_ID, COL_SEQ_NO, COL_SOURCE, COL_VERSION, IndexMeta};
use crate::dsl::{self, Query};
use crate::error::{EsError, EsResult};
use crate::ingest::bulk::OpType;
use crate::ingest::write::{self, WriteOp, WriteResult};
use crate::plan::{self, Ctx};
use crate::server::AppState;
use crate::sql::{self, Expr};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The parameters RestDeleteByQueryAction / RestUpdateByQueryAction consume (with the search
/// parameters of the scroll they run, AbstractBulkByQueryRestHandler#parseInternalRequest).
const BY_QUERY_PARAMS: &[&str] = &[
    "q",
    "df",
    "analyzer",
    "analyze_wildcard",
    "default_operator",
    "lenient",
    "routing",
    "preference",
    "search_type",
    "search_timeout",
    "scroll",
    "scroll_size",
    "max_docs",
    "conflicts",
    "refresh",
    "slices",
    "wait_for_completion",
    "wait_for_active_shards",
    "requests_per_second",
    "timeout",
    "allow_no_indices",
    "expand_wildcards",
    "ignore_unavailable",
    "request_cache",
    "terminate_after",
    "stats",
    "from",
    "sort",
    "_source",
    "_source_includes",
    "_source_excludes",
];

/// What an operation does to each document it visits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Delete,
    Update,
    Reindex,
}

impl Kind {
    /// The task action name (TaskInfo#action).
    pub fn action(self) -> &'static str {
        match self {
            Kind::Delete => "indices:data/write/delete/byquery",
            Kind::Update => "indices:data/write/update/byquery",
            Kind::Reindex => "indices:data/write/reindex",
        }
    }
}

/// BulkByScrollTask.Status counters.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub total: u64,
    pub updated: u64,
    pub created: u64,
    pub deleted: u64,
    pub batches: u64,
    pub version_conflicts: u64,
    pub noops: u64,
    pub canceled: Option<String>,
}

impl Counters {
    /// The status object; `_delete_by_query` leaves out `updated` and `created`,
    /// `_update_by_query` leaves out `created` (RestDeleteByQueryAction / RestUpdateByQueryAction
    /// set `include_created` / `include_updated` to false).
    pub fn status_json(&self, kind: Kind, rps: f64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("total".into(), json!(self.total));
        if kind != Kind::Delete {
            m.insert("updated".into(), json!(self.updated));
        }
        if kind == Kind::Reindex {
            m.insert("created".into(), json!(self.created));
        }
        m.insert("deleted".into(), json!(self.deleted));
        m.insert("batches".into(), json!(self.batches));
        m.insert("version_conflicts".into(), json!(self.version_conflicts));
        m.insert("noops".into(), json!(self.noops));
        m.insert("retries".into(), json!({"bulk": 0, "search": 0}));
        m.insert("throttled_millis".into(), json!(0));
        m.insert("requests_per_second".into(), json!(rps));
        if let Some(c) = &self.canceled {
            m.insert("canceled".into(), json!(c));
        }
        m.insert("throttled_until_millis".into(), json!(0));
        m
    }
}

/// Where `_reindex` writes.
#[derive(Debug, Clone)]
pub struct Dest {
    pub index: String,
    /// `create` makes an existing `_id` a version conflict; `index` overwrites.
    pub op_type: OpType,
    pub source_filter: crate::render::SourceFilter,
}

/// One delete/update-by-query or reindex, parsed and ready to run.
#[derive(Clone)]
pub struct Job {
    pub kind: Kind,
    pub metas: Vec<Arc<IndexMeta>>,
    pub query: Query,
    pub max_docs: Option<u64>,
    /// `conflicts=abort` (the default): stop at the first version conflict.
    pub abort_on_conflict: bool,
    pub batch: u64,
    pub script: Option<UpdateScript>,
    pub pipeline: Option<String>,
    pub dest: Option<Dest>,
    /// `requests_per_second` (-1: unthrottled). Accepted; the operation is never throttled.
    pub rps: f64,
    pub description: String,
}

/// The live state of a running job, shared with `GET /_tasks` and `_cancel`.
#[derive(Default)]
pub struct Progress {
    pub counters: parking_lot::Mutex<Counters>,
    pub cancel: AtomicBool,
}

/// One document read for the operation.
struct Row {
    id: String,
    source: String,
    version: u64,
    seq_no: u64,
}

/// Reads the next batch of matching live documents with `_seq_no` in `(after, bound]`.
async fn read_batch(
    s: &AppState,
    meta: &IndexMeta,
    filter: &Expr,
    after: Option<u64>,
    bound: u64,
    limit: u64,
) -> EsResult<Vec<Row>> {
    let mut conds = vec![filter.clone(), sql::col(COL_SEQ_NO).lte(sql::lit(bound))];
    if let Some(a) = after {
        conds.push(sql::col(COL_SEQ_NO).gt(sql::lit(a)));
    }
    let q = sql::Select {
        items: vec![
            sql::col(COL_ID).alias("i"),
            sql::col(COL_SOURCE).alias("s"),
            sql::col(COL_VERSION).alias("v"),
            sql::col(COL_SEQ_NO).alias("q"),
        ],
        from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
        rows: meta.rows(),
        where_: Some(sql::and_all(conds)),
        order_by: vec![sql::col(COL_SEQ_NO).asc()],
        limit: Some(limit),
        ..Default::default()
    };
    Ok(s.ch
        .query_rows(&q)
        .await?
        .into_iter()
        .map(|r| Row {
            id: r["i"].as_str().unwrap_or_default().to_string(),
            source: r["s"].as_str().unwrap_or_default().to_string(),
            version: r["v"].as_u64().unwrap_or(0),
            seq_no: r["q"].as_u64().unwrap_or(0),
        })
        .collect())
}

async fn count(s: &AppState, meta: &IndexMeta, filter: &Expr, bound: u64) -> EsResult<u64> {
    let q = sql::Select {
        items: vec![Expr::func("count", vec![]).alias("__n")],
        from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
        rows: meta.rows(),
        where_: Some(sql::and_all([
            filter.clone(),
            sql::col(COL_SEQ_NO).lte(sql::lit(bound)),
        ])),
        ..Default::default()
    };
    let rows = s.ch.query_rows(&q).await?;
    Ok(rows.first().and_then(|r| r["__n"].as_u64()).unwrap_or(0))
}

/// A bulk failure entry (BulkItemResponse.Failure as the by-scroll response shows it).
fn failure(index: &str, id: &str, e: &EsError) -> Value {
    json!({"index": index, "id": id, "cause": e.body(), "status": e.status})
}

/// Runs the job to its end (or its first failure under `conflicts=abort`, or cancellation) and
/// returns the HTTP status and the BulkByScrollResponse body.
pub async fn run(s: &AppState, job: &Job, progress: &Progress) -> (StatusCode, Value) {
    let started = Instant::now();
    let mut failures: Vec<Value> = Vec::new();
    let outcome = run_inner(s, job, progress, &mut failures).await;
    let counters = progress.counters.lock().clone();
    let mut body = Map::new();
    body.insert("took".into(), json!(started.elapsed().as_millis() as u64));
    body.insert("timed_out".into(), json!(false));
    body.extend(counters.status_json(job.kind, job.rps));
    if let Err(e) = outcome {
        // A failure of the operation itself (not of one document): ES reports it as a search
        // failure of the scroll.
        failures.push(
            json!({"index": Value::Null, "shard": 0, "node": Value::Null,
            "reason": e.body(), "status": e.status}),
        );
    }
    let status = failures
        .iter()
        .filter_map(|f| f["status"].as_u64())
        .max()
        .and_then(|n| StatusCode::from_u16(n as u16).ok())
        .unwrap_or(StatusCode::OK);
    body.insert("failures".into(), Value::Array(failures));
    tracing::info!(
        action = job.kind.action(),
        total = counters.total,
        batches = counters.batches,
        version_conflicts = counters.version_conflicts,
        took_ms = started.elapsed().as_millis() as u64,
        "by-scroll operation finished"
    );
    (status, Value::Object(body))
}

async fn run_inner(
    s: &AppState,
    job: &Job,
    progress: &Progress,
    failures: &mut Vec<Value>,
) -> EsResult<()> {
    let now_millis = chrono::Utc::now().timestamp_millis();
    let snap = super::search::snapshot(s, &job.metas).await?;
    // The matching documents, per index, with their snapshot bound.
    let mut plans = Vec::new();
    let mut total = 0u64;
    for (meta, snap) in job.metas.iter().zip(&snap) {
        let Some(bound) = snap.max_seq_no else {
            continue;
        };
        let ctx = Ctx::new(meta, now_millis);
        let filter = plan::search_filter(&ctx, &job.query)
            .map_err(|e| super::search::phase_failure(e, Some(meta)))?;
        total += count(s, meta, &filter, bound).await?;
        plans.push((meta.clone(), filter, bound));
    }
    let mut remaining = job.max_docs.map_or(total, |m| m.min(total));
    progress.counters.lock().total = remaining;
    let mut ingest = if job.pipeline.is_some() || job.kind != Kind::Delete {
        Some(super::ingest::Ingest::load(s).await?)
    } else {
        None
    };
    for (meta, filter, bound) in plans {
        let mut after = None;
        while remaining > 0 {
            if progress.cancel.load(Ordering::SeqCst) {
                progress.counters.lock().canceled = Some("by user request".into());
                return Ok(());
            }
            let rows =
                read_batch(s, &meta, &filter, after, bound, job.batch.min(remaining)).await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some(last.seq_no);
            remaining -= rows.len() as u64;
            progress.counters.lock().batches += 1;
            let stop =
                apply_batch(s, job, &meta, rows, ingest.as_mut(), progress, failures).await?;
            if stop {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes one batch; returns whether the operation must stop (a failure under abort).
async fn apply_batch(
    s: &AppState,
    job: &Job,
    meta: &IndexMeta,
    rows: Vec<Row>,
    mut ingest: Option<&mut super::ingest::Ingest>,
    progress: &Progress,
    failures: &mut Vec<Value>,
) -> EsResult<bool> {
    let target = match &job.dest {
        Some(d) => d.index.clone(),
        None => meta.name.clone(),
    };
    let mut ops: Vec<(String, WriteOp)> = Vec::new();
    let mut stop = false;
    for row in rows {
        let conditional = job.dest.is_none();
        let mut op = WriteOp {
            op: OpType::Index,
            id: Some(row.id.clone()),
            source: Some(row.source.clone().into_bytes()),
            update: None,
            if_seq_no: conditional.then_some(row.seq_no),
            if_primary_term: conditional.then_some(1),
        };
        match job.kind {
            Kind::Delete => {
                op.op = OpType::Delete;
                op.source = None;
            }
            Kind::Reindex => {
                let d = job.dest.as_ref().expect("reindex has a destination");
                op.op = d.op_type;
                if d.source_filter != crate::render::SourceFilter::All {
                    let filtered = d
                        .source_filter
                        .apply(&row.source)
                        .map(|r| r.get().as_bytes().to_vec())
                        .unwrap_or_else(|| b"{}".to_vec());
                    op.source = Some(filtered);
                }
            }
            Kind::Update => {}
        }
        if let Some(script) = &job.script {
            match run_script(script, meta, &row, op.source.as_deref()) {
                Ok((Op::Noop, _)) => {
                    progress.counters.lock().noops += 1;
                    continue;
                }
                Ok((Op::Delete, _)) => {
                    op.op = OpType::Delete;
                    op.source = None;
                }
                Ok((Op::Index, src)) => op.source = Some(src),
                Err(e) => {
                    // A script failure fails the whole request (ES: the bulk is never sent).
                    failures.push(failure(&target, &row.id, &e));
                    stop = true;
                    break;
                }
            }
        }
        let index = match (&mut ingest, op.op) {
            (Some(ing), OpType::Index | OpType::Create) => {
                match ing
                    .prepare_op(s, &target, &mut op, job.pipeline.as_deref())
                    .await
                {
                    Ok(super::ingest::OpOutcome::Write(i)) => i,
                    Ok(super::ingest::OpOutcome::Dropped) => {
                        progress.counters.lock().noops += 1;
                        continue;
                    }
                    Err(e) => {
                        failures.push(failure(&target, &row.id, &e));
                        stop = true;
                        break;
                    }
                }
            }
            _ => target.clone(),
        };
        ops.push((index, op));
    }
    if ops.is_empty() {
        return Ok(stop);
    }
    // Group by destination index, keeping order (one write batch per index).
    let mut results: Vec<WriteResult> = Vec::new();
    let mut by_index: Vec<(String, Vec<WriteOp>)> = Vec::new();
    for (i, op) in ops {
        match by_index.last_mut() {
            Some((last, v)) if *last == i => v.push(op),
            _ => by_index.push((i, vec![op])),
        }
    }
    for (index, ops) in by_index {
        results.extend(write::apply(s, &index, ops).await?);
    }
    let mut c = progress.counters.lock();
    for r in results {
        match &r.outcome {
            Ok(d) => match d.result {
                "deleted" => c.deleted += 1,
                "created" => c.created += 1,
                "updated" => c.updated += 1,
                "noop" => c.noops += 1,
                // A document deleted between the read and the write.
                _ => c.version_conflicts += 1,
            },
            Err(e) if e.status == 409 => {
                c.version_conflicts += 1;
                if job.abort_on_conflict {
                    failures.push(failure(&r.index, &r.id, e));
                    stop = true;
                }
            }
            Err(e) => {
                failures.push(failure(&r.index, &r.id, e));
                stop = true;
            }
        }
    }
    Ok(stop)
}

/// Runs an update script on one document; returns the decision and the new source bytes.
fn run_script(
    script: &UpdateScript,
    meta: &IndexMeta,
    row: &Row,
    source: Option<&[u8]>,
) -> EsResult<(Op, Vec<u8>)> {
    let src: Value = serde_json::from_slice(source.unwrap_or(row.source.as_bytes()))
        .map_err(|e| EsError::storage(format!("stored _source is not JSON: {e}")))?;
    let mut ctx = Map::new();
    ctx.insert(SOURCE_KEY.into(), src);
    ctx.insert("_index".into(), json!(meta.name));
    ctx.insert("_id".into(), json!(row.id));
    ctx.insert("_version".into(), json!(row.version));
    ctx.insert("_seq_no".into(), json!(row.seq_no));
    ctx.insert("_primary_term".into(), json!(1));
    ctx.insert("_routing".into(), Value::Null);
    ctx.insert("op".into(), json!("index"));
    ctx.insert("_now".into(), json!(chrono::Utc::now().timestamp_millis()));
    let (op, mut ctx) = script.run(ctx)?;
    let src = ctx.remove(SOURCE_KEY).unwrap_or_else(|| json!({}));
    let bytes = serde_json::to_vec(&src)
        .map_err(|e| EsError::storage(format!("cannot serialise the document: {e}")))?;
    Ok((op, bytes))
}

/// `conflicts`: `abort` (default) or `proceed` (AbstractBulkByScrollRequest#setConflicts).
pub fn parse_conflicts(v: &str) -> EsResult<bool> {
    match v {
        "abort" => Ok(true),
        "proceed" => Ok(false),
        other => Err(EsError::illegal_argument(format!(
            "conflicts may only be \"proceed\" or \"abort\" but was [{other}]"
        ))),
    }
}

/// `max_docs` (AbstractBulkByScrollRequest#setMaxDocs).
pub fn parse_max_docs(v: &Value) -> EsResult<u64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| EsError::illegal_argument(format!("failed to parse [max_docs] value [{v}]")))?;
    if n < 0 {
        return Err(EsError::illegal_argument(format!(
            "[max_docs] parameter cannot be negative, found [{n}]"
        )));
    }
    if n == 0 {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: maxDocs should be greater than 0 if the request is limited to some number of documents or -1 if it isn't but it was [0];",
        ));
    }
    Ok(n as u64)
}

/// Parameters common to the three APIs: slices, requests_per_second, scroll_size.
pub struct Common {
    pub rps: f64,
    pub batch: u64,
    pub wait: bool,
}

pub fn common_params(p: &Params) -> EsResult<Common> {
    if let Some(v) = p.get("slices")
        && v != "auto"
    {
        match v.parse::<i64>() {
            Ok(n) if n >= 1 => {}
            Ok(_) => {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: slices must be greater than 0;",
                ));
            }
            Err(_) => {
                return Err(EsError::illegal_argument(format!(
                    "slices must be a number or [auto] but was [{v}]"
                )));
            }
        }
    }
    let rps = match p.get("requests_per_second").map(String::as_str) {
        None | Some("-1") | Some("") => -1.0,
        Some(v) => match v.parse::<f64>() {
            Ok(f) if f > 0.0 => f,
            _ => {
                return Err(EsError::illegal_argument(format!(
                    "[requests_per_second] must be a float greater than 0. Use -1 to disable throttling. Found [{v}]"
                )));
            }
        },
    };
    let batch = match p.get("scroll_size") {
        None => 1000,
        Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            EsError::illegal_argument(format!(
                "Failed to parse int parameter [scroll_size] with value [{v}]"
            ))
        })?,
    };
    let wait = match p.get("wait_for_completion") {
        None => true,
        Some(_) => flag(p, "wait_for_completion")?,
    };
    if p.contains_key("refresh") {
        flag(p, "refresh")?;
    }
    Ok(Common { rps, batch, wait })
}

async fn by_query(
    s: AppState,
    kind: Kind,
    index: &str,
    path: &str,
    p: Params,
    body: Bytes,
) -> ApiResult {
    let mut known: Vec<&str> = BY_QUERY_PARAMS.to_vec();
    if kind == Kind::Update {
        known.extend(["pipeline", "version", "version_type"]);
    }
    super::search::check_params(path, &p, &known)?;
    let common = common_params(&p)?;
    let body = parse_body(&body)?;
    let mut query = Query::MatchAll { boost: 1.0 };
    let mut max_docs = None;
    let mut abort = true;
    let mut script = None;
    if let Some(v) = &body {
        let Some(m) = v.as_object() else {
            return Err(EsError::parsing("request body must be an object"));
        };
        for (k, v) in m {
            match k.as_str() {
                "query" => query = dsl::parse_query(v)?,
                "max_docs" => max_docs = Some(parse_max_docs(v)?),
                "conflicts" => {
                    abort = parse_conflicts(v.as_str().unwrap_or_default())?;
                }
                "script" if kind == Kind::Update => script = Some(UpdateScript::compile(v)?),
                "slice" => return Err(EsError::unsupported(format!("[{k}] (manual slicing)"))),
                other => {
                    return Err(EsError::parsing(format!(
                        "request does not support [{other}]"
                    )));
                }
            }
        }
    }
    if kind == Kind::Delete && body.is_none() && !p.contains_key("q") {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: query is missing;",
        ));
    }
    if p.contains_key("q") {
        let folded = super::search::fold_params(None, &p)?;
        query = dsl::parse_query(&folded["query"])?;
    }
    if let Some(v) = p.get("max_docs") {
        max_docs = Some(parse_max_docs(&json!(v))?);
    }
    if let Some(c) = p.get("conflicts") {
        abort = parse_conflicts(c)?;
    }
    let metas = s
        .catalog
        .resolve(index, super::indices::resolve_options(&p)?)
        .await?;
    let job = Job {
        kind,
        description: format!(
            "{} [{}]",
            if kind == Kind::Delete {
                "delete-by-query"
            } else {
                "update-by-query"
            },
            metas
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        metas,
        query,
        max_docs,
        abort_on_conflict: abort,
        batch: common.batch,
        script,
        pipeline: p.get("pipeline").cloned(),
        dest: None,
        rps: common.rps,
    };
    start(s, job, common.wait).await
}

/// Runs the job now, or as a task when `wait_for_completion=false`.
pub async fn start(s: AppState, job: Job, wait: bool) -> ApiResult {
    if !wait {
        let id = super::tasks::spawn(&s, job).await?;
        return Ok(EsJson(StatusCode::OK, json!({"task": id})).into_response());
    }
    let progress = Progress::default();
    let (status, body) = run(&s, &job, &progress).await;
    Ok(EsJson(status, body).into_response())
}

pub async fn delete_by_query(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    by_query(s, Kind::Delete, &index, uri.path(), p, body).await
}

pub async fn update_by_query(
    State(s): State<AppState>,
    Path(index): Path<String>,
    OriginalUri(uri): OriginalUri,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> ApiResult {
    by_query(s, Kind::Update, &index, uri.path(), p, body).await
}
