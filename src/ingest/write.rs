//! Applying index/create/update/delete operations with Elasticsearch's `_id` semantics.
//!
//! For one index, a batch of operations is applied in request order:
//! 1. one query reads the latest row (live or tombstone) of every explicit `_id` in the batch;
//! 2. each operation is decided in memory (created/updated/deleted/not_found/noop, 409 conflicts,
//!    version and sequence number), documents are prepared (dynamic mapping, value conversion) and a
//!    failing document fails only its own item;
//! 3. new fields become columns (`ALTER TABLE … ADD COLUMN`), then one `INSERT` writes the final row
//!    of every touched `_id`. Items are acknowledged only after ClickHouse accepted that INSERT.
//!
//! In the log-native layout (format 2) a row that replaces a stored version of its id is inserted
//! as pending (invisible), and the write commits with one lightweight `UPDATE` that makes the new
//! versions live and the old ones superseded at once; rows of ids new to the table are inserted
//! live. Tables of the first layout (format 1, a ReplacingMergeTree with a `_deleted` flag read
//! with FINAL) are written as before. See docs/storage.md, "`_id` semantics".

use super::bulk::OpType;
use crate::catalog::{
    COL_DELETED, COL_ID, COL_SEQ_NO, COL_SOURCE, COL_STATE, COL_VERSION, IndexMeta, RowState,
};
use crate::error::{EsError, EsResult};
use crate::schema::synthetic::SourceMode;
use crate::schema::{self, Mappings};
use crate::server::AppState;
use crate::sql::{self, ChType};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// One write, with its document already read.
#[derive(Debug, Clone)]
pub struct WriteOp {
    pub op: OpType,
    pub id: Option<String>,
    /// The exact bytes of the document (index/create).
    pub source: Option<Vec<u8>>,
    /// The update request body (update).
    pub update: Option<Map<String, Value>>,
    pub if_seq_no: Option<u64>,
    pub if_primary_term: Option<u64>,
}

/// The outcome of one write, as a bulk item or a single-document response.
#[derive(Debug, Clone)]
pub struct WriteResult {
    pub index: String,
    pub id: String,
    pub outcome: Result<Done, EsError>,
}

#[derive(Debug, Clone)]
pub struct Done {
    /// created | updated | deleted | not_found | noop
    pub result: &'static str,
    pub version: u64,
    pub seq_no: u64,
    pub status: u16,
}

impl WriteResult {
    /// The response object of a single-document API (or of a bulk item, without `status`).
    pub fn body(&self, forced_refresh: bool) -> Value {
        match &self.outcome {
            Ok(d) => {
                let mut v = json!({
                    "_index": self.index,
                    "_id": self.id,
                    "_version": d.version,
                    "result": d.result,
                });
                if forced_refresh && d.result != "noop" {
                    v["forced_refresh"] = json!(true);
                }
                v["_shards"] = if d.result == "noop" {
                    json!({"total": 0, "successful": 0, "failed": 0})
                } else {
                    json!({"total": 1, "successful": 1, "failed": 0})
                };
                v["_seq_no"] = json!(d.seq_no);
                v["_primary_term"] = json!(1);
                v
            }
            Err(e) => e.to_json(),
        }
    }

    /// The bulk item object: `{"index": {…, "status": 201}}`.
    pub fn bulk_item(&self, op: OpType, forced_refresh: bool) -> Value {
        let inner = match &self.outcome {
            Ok(d) => {
                let mut v = self.body(forced_refresh);
                v["status"] = json!(d.status);
                v
            }
            Err(e) => json!({
                "_index": self.index,
                "_id": self.id,
                "status": e.status,
                "error": e.body(),
            }),
        };
        json!({ op.name(): inner })
    }

    /// Appends the bulk item as JSON to `out`: the bytes of `serde_json::to_vec(&self.bulk_item(…))`,
    /// written without building a `Value` for the common successful case.
    pub fn write_bulk_item(&self, op: OpType, forced_refresh: bool, out: &mut Vec<u8>) {
        let Ok(d) = &self.outcome else {
            put(out, &self.bulk_item(op, forced_refresh));
            return;
        };
        out.push(b'{');
        put(out, op.name());
        out.extend_from_slice(b":{\"_index\":");
        put(out, self.index.as_str());
        out.extend_from_slice(b",\"_id\":");
        put(out, self.id.as_str());
        out.extend_from_slice(b",\"_version\":");
        put(out, &d.version);
        out.extend_from_slice(b",\"result\":");
        put(out, d.result);
        if forced_refresh && d.result != "noop" {
            out.extend_from_slice(b",\"forced_refresh\":true");
        }
        out.extend_from_slice(if d.result == "noop" {
            b",\"_shards\":{\"total\":0,\"successful\":0,\"failed\":0}"
        } else {
            b",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}"
        });
        out.extend_from_slice(b",\"_seq_no\":");
        put(out, &d.seq_no);
        out.extend_from_slice(b",\"_primary_term\":1,\"status\":");
        put(out, &d.status);
        out.extend_from_slice(b"}}");
    }

    pub fn status(&self) -> u16 {
        match &self.outcome {
            Ok(d) => d.status,
            Err(e) => e.status,
        }
    }
}

/// The latest stored row of an id (live or deleted).
#[derive(Debug, Clone)]
struct Current {
    version: u64,
    seq_no: u64,
    deleted: bool,
    source: Option<Vec<u8>>,
}

/// A row to insert.
struct Row {
    id: String,
    version: u64,
    seq_no: u64,
    deleted: bool,
    source: Vec<u8>,
    /// What the `_source` column keeps when it is not `source` itself: the residual of a
    /// synthetic-source index (src/schema/synthetic.rs), or nothing when source is disabled.
    stored_source: Option<Vec<u8>>,
    /// The fields of `_ignored` (kept in the residual of synthetic source).
    ignored: Vec<String>,
    values: Vec<(String, Value)>,
}

/// Reads the latest row of each id.
async fn lookup(
    state: &AppState,
    meta: &IndexMeta,
    ids: &[String],
    with_source: bool,
) -> EsResult<HashMap<String, Current>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let by = sql::col(COL_SEQ_NO);
    // Format 1: the `_deleted` flag of the newest row. Format 2: live and tombstone rows only
    // (pending rows of a write that never committed, and superseded ones, are not versions).
    let (deleted, only) = if meta.log_native() {
        (
            sql::col(COL_STATE).eq(sql::lit(RowState::Tombstone as u8)),
            Some(sql::col(COL_STATE).in_list(vec![
                sql::lit(RowState::Live as u8),
                sql::lit(RowState::Tombstone as u8),
            ])),
        )
    } else {
        (sql::col(COL_DELETED), None)
    };
    let mut items = vec![
        sql::col(COL_ID).alias("id"),
        sql::Expr::func("max", vec![by.clone()]).alias("seq"),
        sql::Expr::func("argMax", vec![sql::col(COL_VERSION), by.clone()]).alias("v"),
        sql::Expr::func("argMax", vec![deleted, by.clone()]).alias("d"),
    ];
    if with_source {
        let source = meta.source_expr();
        items.push(sql::Expr::func("argMax", vec![source, by.clone()]).alias("s"));
    }
    let q = sql::Select {
        items,
        from: Some(sql::FromClause::table(state.catalog.db(), meta.table())),
        where_: Some(sql::and_all(
            std::iter::once(
                sql::col(COL_ID).in_list(ids.iter().map(|i| sql::lit(i.as_str())).collect()),
            )
            .chain(only),
        )),
        group_by: vec![sql::col(COL_ID)],
        ..Default::default()
    };
    for r in state.ch.query_rows(&q).await? {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        out.insert(
            id,
            Current {
                version: r["v"].as_u64().unwrap_or(0),
                seq_no: r["seq"].as_u64().unwrap_or(0),
                deleted: r["d"].as_u64().unwrap_or(0) == 1,
                source: r
                    .get("s")
                    .and_then(Value::as_str)
                    .map(|s| s.as_bytes().to_vec()),
            },
        );
    }
    Ok(out)
}

/// Merges `patch` into `base` as Elasticsearch's partial update does (XContentHelper#update):
/// objects merge recursively, everything else is replaced. Returns whether anything changed.
pub fn merge_doc(base: &mut Map<String, Value>, patch: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (k, v) in patch {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(p)) => changed |= merge_doc(b, p),
            (Some(old), new) => {
                if old != new {
                    *old = new.clone();
                    changed = true;
                }
            }
            (None, new) => {
                base.insert(k.clone(), new.clone());
                changed = true;
            }
        }
    }
    changed
}

fn parse_source(bytes: &[u8], id: &str) -> EsResult<Value> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        EsError::document_parsing(format!(
            "[{}:{}] failed to parse: {}",
            e.line(),
            e.column(),
            e.to_string().split(" at line ").next().unwrap_or_default()
        ))
        .caused_by(EsError::new(400, "json_parse_exception", e.to_string()))
    })?;
    if !v.is_object() {
        return Err(EsError::document_parsing(format!(
            "[1:1] failed to parse: document with id '{id}' is not a JSON object"
        )));
    }
    Ok(v)
}

/// Whether an operation may create its index (action.auto_create_index defaults to true). Deletes
/// and updates without an upsert do not create indices (TransportBulkAction): they get 404.
fn creates_index(o: &WriteOp) -> bool {
    match o.op {
        OpType::Delete => false,
        OpType::Update => o.update.as_ref().is_some_and(|u| {
            u.contains_key("upsert") || u.get("doc_as_upsert") == Some(&json!(true))
        }),
        _ => true,
    }
}

/// Applies `ops` to the index, alias or data stream `target` names, and returns one result per op,
/// in order. An alias writes to its write index; a data stream takes only `create` operations into
/// its newest backing index; a name nothing has yet is created, shaped by the matching index
/// template (which may make it a data stream).
pub async fn apply(
    state: &AppState,
    target: &str,
    ops: Vec<WriteOp>,
) -> EsResult<Vec<WriteResult>> {
    use crate::catalog::WriteTarget;
    match state.catalog.write_target(target).await? {
        WriteTarget::Index(m) | WriteTarget::Alias(m) => {
            apply_concrete(state, &m.name, ops, None).await
        }
        WriteTarget::DataStream(m) => apply_to_data_stream(state, target, &m.name, ops).await,
        WriteTarget::Missing => {
            if !ops.iter().any(creates_index) {
                return apply_concrete(state, target, ops, None).await;
            }
            let plan = crate::es_api::templates::compose(state, target, None).await?;
            if let Some(e) = plan.auto_create_forbidden(target) {
                return Ok(ops
                    .into_iter()
                    .map(|o| WriteResult {
                        index: target.to_string(),
                        id: o.id.unwrap_or_default(),
                        outcome: Err(e.clone()),
                    })
                    .collect());
            }
            if plan.data_stream.is_some() {
                if !ops.iter().any(|o| o.op == OpType::Create) {
                    return Ok(ops
                        .into_iter()
                        .map(|o| WriteResult {
                            index: target.to_string(),
                            id: o.id.unwrap_or_default(),
                            outcome: Err(only_create_in_data_streams()),
                        })
                        .collect());
                }
                let backing = crate::es_api::data_streams::create(state, target, plan).await?;
                return apply_to_data_stream(state, target, &backing.name, ops).await;
            }
            apply_concrete(state, target, ops, Some(plan)).await
        }
    }
}

fn only_create_in_data_streams() -> EsError {
    EsError::illegal_argument(
        "only write ops with an op_type of create are allowed in data streams",
    )
}

/// A data stream document must have `@timestamp` (DataStreamTimestampFieldMapper); the error is
/// the document-parsing failure Elasticsearch reports at the end of the document.
fn missing_timestamp(source: &[u8]) -> Option<EsError> {
    let v: Value = serde_json::from_slice(source).ok()?;
    let present = v
        .as_object()
        .is_some_and(|o| o.get("@timestamp").is_some_and(|t| !t.is_null()));
    if present || !v.is_object() {
        return None;
    }
    let end = source.iter().rposition(|b| *b == b'}').unwrap_or(0);
    let line = source[..end].iter().filter(|b| **b == b'\n').count() + 1;
    let col = end
        - source[..end]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    let cause = "data stream timestamp field [@timestamp] is missing";
    Some(
        EsError::document_parsing(format!("[{line}:{col}] failed to parse: {cause}"))
            .caused_by(EsError::illegal_argument(cause)),
    )
}

/// Writes through a data stream name: only `create` (TransportBulkAction#validateWriteIndex), each
/// document with `@timestamp`, into the newest backing index.
async fn apply_to_data_stream(
    state: &AppState,
    data_stream: &str,
    backing: &str,
    ops: Vec<WriteOp>,
) -> EsResult<Vec<WriteResult>> {
    let mut out: Vec<Option<WriteResult>> = vec![None; ops.len()];
    let (mut pass, mut positions) = (Vec::new(), Vec::new());
    for (i, op) in ops.into_iter().enumerate() {
        let refused = if op.op != OpType::Create {
            Some((data_stream, only_create_in_data_streams()))
        } else {
            op.source
                .as_deref()
                .and_then(missing_timestamp)
                .map(|e| (backing, e))
        };
        match refused {
            Some((index, e)) => {
                out[i] = Some(WriteResult {
                    index: index.to_string(),
                    id: op.id.clone().unwrap_or_default(),
                    outcome: Err(e),
                })
            }
            None => {
                pass.push(op);
                positions.push(i);
            }
        }
    }
    if !pass.is_empty() {
        let results = apply_concrete(state, backing, pass, None).await?;
        for (p, r) in positions.into_iter().zip(results) {
            out[p] = Some(r);
        }
    }
    Ok(out
        .into_iter()
        .map(|r| r.expect("every op has a result"))
        .collect())
}

/// Applies `ops` to one concrete index (auto-creating it if needed, as `plan` says or plain) and
/// returns one result per op, in order.
async fn apply_concrete(
    state: &AppState,
    index: &str,
    ops: Vec<WriteOp>,
    plan: Option<crate::es_api::templates::Composed>,
) -> EsResult<Vec<WriteResult>> {
    let staged = stage_with(state, index, ops, &mut Prior::Unpipelined, plan).await?;
    Ok(commit(state, staged).await)
}

/// The insert of the previous batch of a `_bulk` request, possibly still running while the next
/// batch is staged.
pub enum Prior {
    /// Not part of a pipelined `_bulk`: the batch keeps the index's write lock until it is inserted.
    Unpipelined,
    /// Pipelined, and no insert is running.
    Idle,
    Running(tokio::task::JoinHandle<Vec<WriteResult>>),
    Done(Vec<WriteResult>),
}

impl Prior {
    /// Waits for a running insert to finish.
    pub async fn finish(&mut self) {
        if let Prior::Running(h) = self {
            let r = h.await.expect("insert task");
            *self = Prior::Done(r);
        }
    }

    /// The results of the previous batch (after waiting for it), if there was one.
    pub async fn take(&mut self) -> Option<Vec<WriteResult>> {
        self.finish().await;
        match std::mem::replace(self, Prior::Idle) {
            Prior::Done(r) => Some(r),
            Prior::Unpipelined => {
                *self = Prior::Unpipelined;
                None
            }
            _ => None,
        }
    }
}

/// A batch decided, prepared and encoded, whose `INSERT` has not run yet: its results are final
/// once [`commit`] has run the insert (or turned them into errors if it failed).
pub struct Staged {
    results: Vec<WriteResult>,
    insert: Option<PendingInsert>,
}

struct PendingInsert {
    stmt: sql::Insert,
    body: Vec<u8>,
    rows: usize,
    /// Log-native layout: the ids whose new rows were inserted pending, and the batch's sequence
    /// numbers (every older row of those ids is below them). Committed by [`flip`].
    replaced: Vec<String>,
    seqs: std::ops::Range<u64>,
    meta: std::sync::Arc<IndexMeta>,
    /// The index's write lock, held until the insert is done, unless the batch only appends
    /// documents with generated ids (nothing else can look those up before the response).
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Staged {
    /// Whether every operation of `ops` appends a document with a generated id.
    pub fn append_only(ops: &[WriteOp]) -> bool {
        ops.iter()
            .all(|o| o.id.is_none() && matches!(o.op, OpType::Index | OpType::Create))
    }
}

/// Runs the insert of a staged batch (acknowledging its items only if ClickHouse accepted it).
pub async fn commit(state: &AppState, staged: Staged) -> Vec<WriteResult> {
    let Staged {
        mut results,
        insert,
    } = staged;
    let Some(ins) = insert else {
        return results;
    };
    let t_insert = std::time::Instant::now();
    let n = ins.rows;
    let mut inserted = state.ch.insert(&ins.stmt, ins.body.into(), n).await;
    tracing::debug!(rows = n, insert_ms = ms(t_insert), "write batch insert");
    if inserted.is_ok() && !ins.replaced.is_empty() {
        let t_flip = std::time::Instant::now();
        inserted = flip(state, &ins.meta, &ins.replaced, ins.seqs.clone()).await;
        tracing::debug!(
            ids = ins.replaced.len(),
            flip_ms = ms(t_flip),
            "write batch committed"
        );
    }
    if let Err(e) = inserted {
        // Nothing of this batch was acknowledged.
        let err: EsError = e.into();
        for r in &mut results {
            if r.outcome.as_ref().is_ok_and(|d| d.result != "noop") {
                r.outcome = Err(err.clone());
            }
        }
        return results;
    }
    state.catalog.note_write(ins.stmt.table.as_str());
    state
        .stats
        .docs_ingested
        .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    results
}

/// Commits a batch that replaced stored versions: one lightweight `UPDATE` makes the batch's pending
/// rows of `ids` live (or tombstones) and every older row of those ids superseded, atomically for
/// readers. Then the superseded rows are deleted in the background (readers never see them anyway).
async fn flip(
    state: &AppState,
    meta: &std::sync::Arc<IndexMeta>,
    ids: &[String],
    seqs: std::ops::Range<u64>,
) -> Result<(), crate::clickhouse::ChError> {
    let st = |r: RowState| sql::lit(r as u8);
    let state_col = || sql::col(COL_STATE);
    let in_ids = || sql::col(COL_ID).in_list(ids.iter().map(|i| sql::lit(i.as_str())).collect());
    // This batch's rows have the sequence numbers `seqs`, every stored version of these ids a
    // lower one (the counter was moved past them after the lookup). Pending rows of other writes
    // that never committed are left alone: they stay invisible.
    let ours = || {
        sql::col(COL_SEQ_NO)
            .gte(sql::lit(seqs.start))
            .and(sql::col(COL_SEQ_NO).lt(sql::lit(seqs.end)))
    };
    let versions = || state_col().in_list(vec![st(RowState::Live), st(RowState::Tombstone)]);
    let update = sql::Update {
        db: state.catalog.db(),
        table: meta.table(),
        set: vec![(
            sql::Ident::new(COL_STATE),
            sql::Expr::func(
                "multiIf",
                vec![
                    ours().and(state_col().eq(st(RowState::Pending))),
                    st(RowState::Live),
                    ours().and(state_col().eq(st(RowState::PendingTombstone))),
                    st(RowState::Tombstone),
                    st(RowState::Superseded),
                ],
            ),
        )],
        where_: in_ids().and(ours().or(versions())),
    };
    state.ch.execute(&update).await?;
    let cleanup = sql::Delete {
        db: state.catalog.db(),
        table: meta.table(),
        where_: in_ids().and(state_col().eq(st(RowState::Superseded))),
    };
    let ch = state.ch.clone();
    let index = meta.name.clone();
    tokio::spawn(async move {
        // As a patch, like the commit: a DELETE run as a mutation (ClickHouse's default mode) can
        // drop the effect of a lightweight UPDATE committed while it runs.
        let settings = [("lightweight_delete_mode", "lightweight_update")];
        if let Err(e) = ch.execute_with(&cleanup, &settings).await {
            tracing::warn!(index, error = %e, "deleting superseded versions failed (they stay invisible)");
        }
    });
    Ok(())
}

/// Decides, prepares and encodes `ops` on one index (auto-creating it if needed, applying schema
/// changes) without running the final `INSERT`: see [`commit`]. When `prior` is an insert still
/// running, this batch is prepared meanwhile and waits for it only before changing the table's schema;
/// such a pipelined batch must be append-only ([`Staged::append_only`]), and it gives up the index's
/// write lock before its own insert runs, so the next batch can be prepared in turn.
pub async fn stage(
    state: &AppState,
    index: &str,
    ops: Vec<WriteOp>,
    prior: &mut Prior,
) -> EsResult<Staged> {
    stage_with(state, index, ops, prior, None).await
}

/// [`stage`], auto-creating the index as the composed index templates say (`plan`) when it does not
/// exist yet.
async fn stage_with(
    state: &AppState,
    index: &str,
    ops: Vec<WriteOp>,
    prior: &mut Prior,
    plan: Option<crate::es_api::templates::Composed>,
) -> EsResult<Staged> {
    let release = !matches!(prior, Prior::Unpipelined) && Staged::append_only(&ops);
    if !release {
        prior.finish().await;
    }
    let guard = state.catalog.write_lock(index).lock_owned().await;
    let meta = match state.catalog.get(index).await? {
        Some(m) => m,
        None => {
            if !ops.iter().any(creates_index) {
                return Ok(Staged {
                    results: ops
                        .into_iter()
                        .map(|o| WriteResult {
                            index: index.to_string(),
                            id: o.id.unwrap_or_default(),
                            outcome: Err(EsError::index_not_found(index)),
                        })
                        .collect(),
                    insert: None,
                });
            }
            let mut plan = plan.unwrap_or_default();
            premap_time_field(&mut plan.mappings, &ops);
            match state
                .catalog
                .create_with(index, plan.mappings, plan.settings, plan.aliases, None)
                .await
            {
                Ok(m) => m,
                Err(e) if e.kind == "resource_already_exists_exception" => {
                    state.catalog.require(index).await?
                }
                Err(e) => return Err(e),
            }
        }
    };
    if !meta.managed {
        return Err(EsError::illegal_argument(format!(
            "index [{index}] is an existing ClickHouse table that elastichouse did not create; it is served read-only"
        )));
    }

    let explicit: Vec<String> = {
        let mut v: Vec<String> = ops.iter().filter_map(|o| o.id.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let need_source = ops.iter().any(|o| o.op == OpType::Update);
    let t_lookup = std::time::Instant::now();
    let mut current = lookup(state, &meta, &explicit, need_source).await?;
    let lookup_ms = ms(t_lookup);
    // Ids with a stored version: their new rows replace it (pending, then committed by `flip`).
    let stored: std::collections::HashSet<String> = if meta.log_native() {
        current.keys().cloned().collect()
    } else {
        Default::default()
    };
    let n_ops = ops.len();

    // Sequence numbers above every stored version of the batch's ids, even ones another daemon
    // wrote (each daemon counts on its own; see docs/storage.md).
    if let Some(max) = current.values().map(|c| c.seq_no).max() {
        state.catalog.observe_seq_no(&meta, max).await?;
    }
    let first_seq = state.catalog.next_seq_nos(&meta, ops.len() as u64).await?;
    let mut mappings = meta.mappings.clone();
    let limits = crate::limits::MappingLimits::from_settings(&meta.settings);
    let mut columns = meta.logical_columns();
    let mut mapping_changed = false;
    let mut new_columns: Vec<(String, ChType)> = Vec::new();
    let mut migrations: Vec<schema::ColumnMigration> = Vec::new();
    let mut text_cols = crate::analysis::text_columns(&mappings);
    let source_mode = meta.source_mode();
    let mut rows: HashMap<String, Row> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut results = Vec::with_capacity(ops.len());

    let t_decide = std::time::Instant::now();
    let ids: Vec<String> = ops
        .iter()
        .map(|o| o.id.clone().unwrap_or_else(crate::ids::generate_id))
        .collect();
    let mut early = prepare_all(&ops, &ids, &mappings, &columns, &text_cols).into_iter();
    for ((i, op), id) in ops.into_iter().enumerate().zip(ids) {
        let seq_no = first_seq + i as u64;
        let early = early.next().flatten();
        let cur = current.get(&id).cloned();
        let live = cur.as_ref().filter(|c| !c.deleted);
        // UpdateHelper: an update of a stored document needs its source.
        let outcome =
            if source_mode == SourceMode::Disabled && op.op == OpType::Update && live.is_some() {
                Err(EsError::new(
                    400,
                    "document_source_missing_exception",
                    format!("[{id}]: document source missing"),
                ))
            } else {
                // A document prepared against the batch's first mapping counts while the
                // mapping and the columns are still those (nothing changed them before it).
                let unchanged = !mapping_changed && new_columns.is_empty() && migrations.is_empty();
                decide(
                    op,
                    &id,
                    index,
                    cur.as_ref(),
                    live,
                    seq_no,
                    early.filter(|_| unchanged),
                    &mut mappings,
                    &limits,
                    &mut columns,
                    &mut mapping_changed,
                    &mut new_columns,
                    &mut migrations,
                    &mut text_cols,
                )
            };
        match outcome {
            Ok((done, row)) => {
                if let Some(mut row) = row {
                    if !row.deleted {
                        row.stored_source = match source_mode {
                            SourceMode::Stored => None,
                            SourceMode::Synthetic => Some(crate::schema::synthetic::residual(
                                &row.source,
                                &mappings,
                                &row.ignored,
                            )),
                            SourceMode::Disabled => Some(Vec::new()),
                        };
                    }
                    current.insert(
                        id.clone(),
                        Current {
                            version: row.version,
                            seq_no: row.seq_no,
                            deleted: row.deleted,
                            // Only a later update of the same id in this batch reads it back.
                            source: need_source.then(|| row.source.clone()),
                        },
                    );
                    if !rows.contains_key(&id) {
                        order.push(id.clone());
                    }
                    rows.insert(id.clone(), row);
                }
                results.push(WriteResult {
                    index: index.to_string(),
                    id,
                    outcome: Ok(done),
                });
            }
            Err(e) => results.push(WriteResult {
                index: index.to_string(),
                id,
                outcome: Err(e),
            }),
        }
    }

    let decide_ms = ms(t_decide);
    if rows.is_empty() {
        return Ok(Staged {
            results,
            insert: None,
        });
    }
    // Schema changes first, then the data.
    let t_schema = std::time::Instant::now();
    let mut meta = meta;
    if mapping_changed || !new_columns.is_empty() || !migrations.is_empty() {
        // No schema change while the previous batch's rows are on their way in.
        prior.finish().await;
    }
    if mapping_changed || !new_columns.is_empty() {
        meta = state
            .catalog
            .update_mapping(&meta, &mappings, &new_columns)
            .await?;
    }
    if !migrations.is_empty() {
        meta = state.catalog.migrate_columns(&meta, &migrations).await?;
    }
    if meta.log_native()
        && !meta.sort_field_nulls
        && let Some(first) = meta.sort_fields.first()
        && rows
            .values()
            .any(|r| !r.deleted && !r.values.iter().any(|(c, v)| c == first && !v.is_null()))
    {
        prior.finish().await;
        meta = state.catalog.mark_sort_field_nulls(&meta).await?;
    }
    let schema_ms = ms(t_schema);
    let t_encode = std::time::Instant::now();
    let mut body = Vec::with_capacity(rows.len() * 256);
    let n = order.len();
    let logical = meta.logical_columns();
    let keys = ColumnKeys::new(&logical);
    let log_native = meta.log_native();
    let mut replaced = Vec::new();
    for id in order {
        let row = rows.remove(&id).expect("row");
        let flag = if !log_native {
            Flag::Deleted(row.deleted)
        } else {
            let pending = stored.contains(&id);
            if pending {
                replaced.push(id.clone());
            }
            Flag::State(match (row.deleted, pending) {
                (false, false) => RowState::Live,
                (false, true) => RowState::Pending,
                (true, false) => RowState::Tombstone,
                (true, true) => RowState::PendingTombstone,
            })
        };
        encode_row(&mut body, row, flag, &logical, &keys);
    }
    let encode_ms = ms(t_encode);
    let body_bytes = body.len();
    tracing::debug!(
        index,
        ops = n_ops,
        rows = n,
        body_bytes,
        lookup_ms,
        decide_ms,
        schema_ms,
        encode_ms,
        "write batch staged"
    );
    let stmt = sql::Insert {
        db: state.catalog.db(),
        table: meta.table(),
        columns: vec![],
        format: "JSONEachRow",
    };
    Ok(Staged {
        results,
        insert: Some(PendingInsert {
            stmt,
            body,
            rows: n,
            replaced,
            seqs: first_seq..first_seq + n_ops as u64,
            meta: meta.clone(),
            _guard: (!release).then_some(guard),
        }),
    })
}

/// A log-native table is sorted by its time field from its creation on, but an index auto-created by
/// a write has no mapping yet. When the first document's dynamic mapping makes `@timestamp` a
/// date, that mapping (the one Elasticsearch gives the document anyway) is the new index's
/// mapping, so the table is created sorted by `@timestamp`.
fn premap_time_field(mappings: &mut Mappings, ops: &[WriteOp]) {
    if mappings.field("@timestamp").is_some() {
        return;
    }
    let Some(first) = ops
        .iter()
        .filter(|o| matches!(o.op, OpType::Index | OpType::Create))
        .find_map(|o| o.source.as_deref())
    else {
        return;
    };
    let Ok(prepared) = schema::prepare_document_bytes(mappings, &BTreeMap::new(), first, "") else {
        return;
    };
    let is_time = prepared.new_columns.iter().any(|(c, t)| {
        c == "@timestamp" && !t.is_array() && matches!(t.base(), ChType::DateTime64(..))
    });
    if let (true, Some(update)) = (is_time, &prepared.mapping_update) {
        let mut merged = mappings.clone();
        if merged.merge(update).is_ok() {
            *mappings = merged;
        }
    }
}

fn ms(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The encoded `,"name":` prefix of every column a prepared value can name, and whether the
/// column is an array, computed once per batch instead of once per value.
struct ColumnKeys(HashMap<String, (Vec<u8>, bool)>);

impl ColumnKeys {
    fn new(columns: &BTreeMap<String, ChType>) -> Self {
        ColumnKeys(
            columns
                .iter()
                .map(|(c, t)| {
                    let mut key = Vec::with_capacity(c.len() + 4);
                    put_key(&mut key, &crate::catalog::physical_name(c, t), false);
                    (c.clone(), (key, t.is_array()))
                })
                .collect(),
        )
    }
}

/// The layout's flag column of a row: `_deleted` (format 1) or the row state (format 2).
#[derive(Clone, Copy)]
enum Flag {
    Deleted(bool),
    State(RowState),
}

impl Flag {
    fn column(self) -> &'static str {
        match self {
            Flag::Deleted(_) => COL_DELETED,
            Flag::State(_) => COL_STATE,
        }
    }

    /// The table format this flag belongs to.
    fn format(self) -> u64 {
        match self {
            Flag::Deleted(_) => crate::catalog::FORMAT_REPLACING,
            Flag::State(_) => crate::catalog::FORMAT_LOG,
        }
    }

    fn value(self) -> u8 {
        match self {
            Flag::Deleted(d) => u8::from(d),
            Flag::State(s) => s as u8,
        }
    }
}

fn encode_row(
    out: &mut Vec<u8>,
    row: Row,
    flag: Flag,
    columns: &BTreeMap<String, ChType>,
    keys: &ColumnKeys,
) {
    let reserved = crate::catalog::reserved_columns(flag.format());
    if row
        .values
        .iter()
        .any(|(c, _)| reserved.contains(&c.as_str()))
    {
        // A value for a reserved name replaces it in place: let a map sort that out.
        return encode_row_as_map(out, row, flag, columns);
    }
    // The same bytes as serialising the row as one JSON object, written field by field.
    out.push(b'{');
    put_key(out, COL_ID, true);
    put(out, row.id.as_str());
    put_key(out, COL_SOURCE, false);
    put(
        out,
        &*String::from_utf8_lossy(row.stored_source.as_deref().unwrap_or(&row.source)),
    );
    put_key(out, COL_VERSION, false);
    put(out, &row.version);
    put_key(out, COL_SEQ_NO, false);
    put(out, &row.seq_no);
    put_key(out, flag.column(), false);
    put(out, &flag.value());
    for (c, v) in &row.values {
        let is_array = match keys.0.get(c) {
            Some((key, is_array)) => {
                out.extend_from_slice(key);
                Some(*is_array)
            }
            None => {
                put_key(out, c, false);
                None
            }
        };
        match (is_array, v) {
            (Some(true), Value::Null) => out.extend_from_slice(b"[]"),
            (Some(true), Value::Array(_)) | (Some(false) | None, _) => put(out, v),
            (Some(true), v) => {
                out.push(b'[');
                put(out, v);
                out.push(b']');
            }
        }
    }
    out.extend_from_slice(b"}\n");
}

fn put_key(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    put(out, name);
    out.push(b':');
}

fn put<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(&mut *out, v).expect("serialising JSON to memory");
}

fn encode_row_as_map(out: &mut Vec<u8>, row: Row, flag: Flag, columns: &BTreeMap<String, ChType>) {
    let mut obj = Map::new();
    obj.insert(COL_ID.into(), Value::String(row.id));
    obj.insert(
        COL_SOURCE.into(),
        Value::String(
            String::from_utf8_lossy(row.stored_source.as_deref().unwrap_or(&row.source))
                .into_owned(),
        ),
    );
    obj.insert(COL_VERSION.into(), json!(row.version));
    obj.insert(COL_SEQ_NO.into(), json!(row.seq_no));
    obj.insert(flag.column().into(), json!(flag.value()));
    for (c, v) in row.values {
        let ty = columns.get(&c);
        let v = match (ty.map(ChType::is_array), v) {
            (Some(true), Value::Array(a)) => Value::Array(a),
            (Some(true), Value::Null) => Value::Array(vec![]),
            (Some(true), v) => Value::Array(vec![v]),
            (_, v) => v,
        };
        let name = match ty {
            Some(t) => crate::catalog::physical_name(&c, t),
            None => c,
        };
        obj.insert(name, v);
    }
    serde_json::to_writer(&mut *out, &Value::Object(obj)).expect("serialising JSON to memory");
    out.push(b'\n');
}

/// A document prepared ahead of the in-order pass: the prepared values, or the error, and the
/// standard-analyzer tokens of its text fields (those of the mapping it was prepared against).
type Early = (EsResult<schema::PreparedDoc>, Vec<(String, Value)>);

/// Fewer documents than this are prepared on the calling thread alone.
const PARALLEL_MIN_DOCS: usize = 64;

/// The standard-analyzer tokens of the text fields among `values`, as (token column, tokens).
fn text_tokens(
    values: &[(String, Value)],
    text_cols: &std::collections::BTreeSet<String>,
) -> Vec<(String, Value)> {
    values
        .iter()
        .filter(|(c, _)| text_cols.contains(c))
        .map(|(c, v)| {
            (
                crate::analysis::token_column(c),
                crate::analysis::tokens_value(v),
            )
        })
        .collect()
}

/// Threads that prepare a batch: the cores, or `ELASTICHOUSE_PREPARE_THREADS` (1 turns the
/// parallel pass off, for measuring it).
fn prepare_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("ELASTICHOUSE_PREPARE_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    })
}

/// Prepares every index/create document of a batch (parsing, coercion, dynamic mapping, analysis:
/// most of a batch's CPU) against the batch's first mapping, on all cores. Preparation is a pure
/// function of (mapping, columns, bytes, id), so a result stays exact for as long as the in-order
/// pass has not changed the mapping; after a change, that pass prepares again.
fn prepare_all(
    ops: &[WriteOp],
    ids: &[String],
    mappings: &Mappings,
    columns: &BTreeMap<String, ChType>,
    text_cols: &std::collections::BTreeSet<String>,
) -> Vec<Option<Early>> {
    let one = |(op, id): (&WriteOp, &String)| -> Option<Early> {
        if !matches!(op.op, OpType::Index | OpType::Create) {
            return None;
        }
        let source = op.source.as_deref()?;
        let prepared = schema::prepare_document_bytes(mappings, columns, source, id);
        let tokens = match &prepared {
            Ok(p) if p.mapping_update.is_none() => text_tokens(&p.values, text_cols),
            _ => Vec::new(),
        };
        Some((prepared, tokens))
    };
    let threads = prepare_threads();
    if threads < 2 || ops.len() < PARALLEL_MIN_DOCS {
        return ops.iter().zip(ids).map(one).collect();
    }
    let chunk = ops.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .chunks(chunk)
            .zip(ids.chunks(chunk))
            .skip(1)
            .map(|(o, i)| s.spawn(move || o.iter().zip(i).map(one).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<Option<Early>> = ops[..chunk].iter().zip(&ids[..chunk]).map(one).collect();
        for h in handles {
            out.extend(h.join().expect("document preparation thread"));
        }
        out
    })
}

#[allow(clippy::too_many_arguments)]
fn decide(
    mut op: WriteOp,
    id: &str,
    index: &str,
    cur: Option<&Current>,
    live: Option<&Current>,
    seq_no: u64,
    early: Option<Early>,
    mappings: &mut Mappings,
    limits: &crate::limits::MappingLimits,
    columns: &mut BTreeMap<String, ChType>,
    mapping_changed: &mut bool,
    new_columns: &mut Vec<(String, ChType)>,
    migrations: &mut Vec<schema::ColumnMigration>,
    text_cols: &mut std::collections::BTreeSet<String>,
) -> EsResult<(Done, Option<Row>)> {
    let next_version = cur.map(|c| c.version + 1).unwrap_or(1);
    // Optimistic concurrency control (if_seq_no / if_primary_term).
    if let Some(want) = op.if_seq_no {
        let term = op.if_primary_term.unwrap_or(1);
        match live {
            Some(c) if c.seq_no == want && term == 1 => {}
            Some(c) => {
                return Err(EsError::version_conflict(
                    index,
                    id,
                    &format!(
                        "required seqNo [{want}], primary term [{term}]. current document has seqNo [{}] and primary term [1]",
                        c.seq_no
                    ),
                ));
            }
            None => {
                return Err(EsError::version_conflict(
                    index,
                    id,
                    &format!(
                        "required seqNo [{want}], primary term [{term}] but no document was found"
                    ),
                ));
            }
        }
    }
    let mut early = early;
    let mut prepare = |source_bytes: Vec<u8>| -> EsResult<Row> {
        let (prepared, early_tokens) = match early.take() {
            Some((prepared, tokens)) => (prepared?, Some(tokens)),
            None => (
                schema::prepare_document_bytes(mappings, columns, &source_bytes, id)?,
                None,
            ),
        };
        if let Some(update) = &prepared.mapping_update {
            if limits.fits_unmerged(mappings, update) {
                mappings.merge(update)?;
            } else {
                let mut merged = mappings.clone();
                merged.merge(update)?;
                limits.check_dynamic(&merged, update).map_err(|e| {
                    EsError::document_parsing(format!("failed to parse: {}", e.reason)).caused_by(e)
                })?;
                *mappings = merged;
            }
            *mapping_changed = true;
        }
        for (c, t) in &prepared.new_columns {
            if !columns.contains_key(c) {
                columns.insert(c.clone(), t.clone());
                new_columns.push((c.clone(), t.clone()));
            }
        }
        // Existing columns whose type must change (single value → array, nested scalars → arrays).
        let mut changes: Vec<schema::ColumnMigration> = prepared.column_migrations.clone();
        for c in &prepared.array_columns {
            if let Some(t) = columns.get(c)
                && !t.is_array()
            {
                changes.push(schema::ColumnMigration {
                    column: c.clone(),
                    from: t.clone(),
                    to: ChType::array(t.base().clone()),
                });
            }
        }
        for m in changes {
            if columns.get(&m.column) == Some(&m.to) {
                continue;
            }
            columns.insert(m.column.clone(), m.to.clone());
            // A column added in this same batch just changes its type before it is created.
            if let Some(nc) = new_columns.iter_mut().find(|(c, _)| *c == m.column) {
                nc.1 = m.to.clone();
            } else if let Some(prev) = migrations.iter_mut().find(|p| p.column == m.column) {
                prev.to = m.to.clone();
            } else {
                migrations.push(m);
            }
        }
        // Standard-analyzer tokens of text fields, in their companion columns.
        if prepared.mapping_update.is_some() {
            *text_cols = crate::analysis::text_columns(mappings);
        }
        let mut values = prepared.values;
        let tokens = match early_tokens.filter(|_| prepared.mapping_update.is_none()) {
            Some(tokens) => tokens,
            None => text_tokens(&values, text_cols),
        };
        for (tc, _) in &tokens {
            if !columns.contains_key(tc) {
                let t = crate::analysis::token_column_type();
                columns.insert(tc.clone(), t.clone());
                new_columns.push((tc.clone(), t));
            }
        }
        values.extend(tokens);
        Ok(Row {
            id: id.to_string(),
            version: next_version,
            seq_no,
            deleted: false,
            source: source_bytes,
            stored_source: None,
            ignored: prepared.ignored,
            values,
        })
    };
    match op.op {
        OpType::Index | OpType::Create => {
            if op.op == OpType::Create
                && let Some(c) = live
            {
                return Err(EsError::version_conflict(
                    index,
                    id,
                    &format!("document already exists (current version [{}])", c.version),
                ));
            }
            let row = prepare(op.source.take().unwrap_or_default())?;
            let (result, status) = if live.is_some() {
                ("updated", 200)
            } else {
                ("created", 201)
            };
            Ok((
                Done {
                    result,
                    version: row.version,
                    seq_no,
                    status,
                },
                Some(row),
            ))
        }
        OpType::Delete => {
            let row = Row {
                id: id.to_string(),
                version: next_version,
                seq_no,
                deleted: true,
                source: Vec::new(),
                stored_source: None,
                ignored: Vec::new(),
                values: Vec::new(),
            };
            let (result, status) = if live.is_some() {
                ("deleted", 200)
            } else {
                ("not_found", 404)
            };
            Ok((
                Done {
                    result,
                    version: next_version,
                    seq_no,
                    status,
                },
                Some(row),
            ))
        }
        OpType::Update => {
            let req = op.update.take().unwrap_or_default();
            if req.contains_key("script") {
                return Err(EsError::unsupported("update with [script]"));
            }
            let doc = match req.get("doc") {
                Some(Value::Object(d)) => Some(d.clone()),
                Some(_) => {
                    return Err(EsError::x_content_parse(
                        "[1:8] [UpdateRequest] doc doesn't support values of type: VALUE_STRING",
                    ));
                }
                None => None,
            };
            let doc_as_upsert = req
                .get("doc_as_upsert")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let detect_noop = req
                .get("detect_noop")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            match live {
                None => {
                    let upsert = match (req.get("upsert"), doc_as_upsert, &doc) {
                        (Some(Value::Object(u)), _, _) => Value::Object(u.clone()),
                        (_, true, Some(d)) => Value::Object(d.clone()),
                        _ => return Err(EsError::document_missing(index, id)),
                    };
                    let row = prepare(serde_json::to_vec(&upsert).expect("JSON"))?;
                    Ok((
                        Done {
                            result: "created",
                            version: row.version,
                            seq_no,
                            status: 201,
                        },
                        Some(row),
                    ))
                }
                Some(c) => {
                    let Some(doc) = doc else {
                        return Err(EsError::action_request_validation(
                            "Validation Failed: 1: script or doc is missing;",
                        ));
                    };
                    let old = c.source.clone().unwrap_or_default();
                    let mut merged = match parse_source(&old, id)? {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    let changed = merge_doc(&mut merged, &doc);
                    if !changed && detect_noop {
                        return Ok((
                            Done {
                                result: "noop",
                                version: c.version,
                                seq_no: c.seq_no,
                                status: 200,
                            },
                            None,
                        ));
                    }
                    let row = prepare(serde_json::to_vec(&Value::Object(merged)).expect("JSON"))?;
                    Ok((
                        Done {
                            result: "updated",
                            version: row.version,
                            seq_no,
                            status: 200,
                        },
                        Some(row),
                    ))
                }
            }
        }
    }
}

/// Runs the ops of a whole request: groups them by index (keeping each index's order) and returns
/// the results in request order.
pub async fn apply_many(state: &AppState, ops: Vec<(String, WriteOp)>) -> Vec<WriteResult> {
    let mut groups: BTreeMap<String, Vec<(usize, WriteOp)>> = BTreeMap::new();
    let total = ops.len();
    for (i, (index, op)) in ops.into_iter().enumerate() {
        groups.entry(index).or_default().push((i, op));
    }
    let mut out: Vec<Option<WriteResult>> = vec![None; total];
    for (index, items) in groups {
        let (positions, ops): (Vec<usize>, Vec<WriteOp>) = items.into_iter().unzip();
        let ids: Vec<String> = ops
            .iter()
            .map(|o| o.id.clone().unwrap_or_default())
            .collect();
        let results = match crate::catalog::validate_index_name(&index) {
            Err(e) => Err(e),
            Ok(()) => apply(state, &index, ops).await,
        };
        match results {
            Ok(rs) => {
                for (p, r) in positions.into_iter().zip(rs) {
                    out[p] = Some(r);
                }
            }
            Err(e) => {
                for (p, id) in positions.into_iter().zip(ids) {
                    out[p] = Some(WriteResult {
                        index: index.clone(),
                        id,
                        outcome: Err(e.clone()),
                    });
                }
            }
        }
    }
    out.into_iter()
        .map(|r| r.expect("every op has a result"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_bulk_items_are_the_serialised_values() {
        let done = |result, status| Done {
            result,
            version: 3,
            seq_no: 17,
            status,
        };
        let cases = [
            Ok(done("created", 201)),
            Ok(done("updated", 200)),
            Ok(done("noop", 200)),
            Ok(done("not_found", 404)),
            Err(EsError::version_conflict(
                "i",
                "a\"b",
                "document already exists",
            )),
        ];
        for outcome in cases {
            let r = WriteResult {
                index: "logs-\u{e9}".into(),
                id: "a\"b".into(),
                outcome,
            };
            for op in [
                OpType::Index,
                OpType::Create,
                OpType::Update,
                OpType::Delete,
            ] {
                for refresh in [false, true] {
                    let mut out = Vec::new();
                    r.write_bulk_item(op, refresh, &mut out);
                    let want = serde_json::to_vec(&r.bulk_item(op, refresh)).unwrap();
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        String::from_utf8(want).unwrap()
                    );
                }
            }
        }
    }
}
