//! Failure stores of data streams (Elasticsearch 8.19 / 9.1): a document of a `_bulk` (or index
//! request) that fails its ingest pipeline, or fails to be written (a mapping conflict, a missing
//! `@timestamp`), is kept in its data stream's failure store instead of being only reported, when
//! `data_stream_options.failure_store.enabled` is true for the stream: in its index template
//! (`template.data_stream_options`, recorded on the stream when it is created), set with
//! `PUT /_data_stream/{name}/_options`, or by the `data_streams_failure_store_enabled` patterns of
//! the configuration (the cluster setting `data_streams.failure_store.enabled`).
//!
//! The failure store is a list of hidden indices `.fs-<stream>-<yyyy.MM.dd>-<generation>` (the
//! generation counts with the backing indices'), created on the first failure, with the fixed
//! mapping of DataStreamFailureStoreDefinition (`dynamic: false`: the failed document's source is
//! kept in `_source`, never mapped, so it cannot fail again). A failure document has the shape of
//! FailureStoreDocumentConverter: `@timestamp`, `document` {`id`, `routing`, `index`, `source`},
//! `error` {`type`, `message`, `stack_trace`, `pipeline_trace`, `pipeline`, `processor_tag`,
//! `processor_type`}. The item then answers 201 with `"failure_store":"used"` and the failure
//! index as `_index`; a failure that could have been stored by a data stream without a failure
//! store answers its error with `"failure_store":"not_enabled"` (IndexDocFailureStoreStatus).
//! `GET <stream>::failures/_search` reads the failure store (catalog::Catalog::resolve).
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/action/bulk/
//! FailureStoreDocumentConverter.java, BulkOperation.java, IndexDocFailureStoreStatus.java;
//! cluster/metadata/DataStreamFailureStoreDefinition.java; modules/data-streams yamlRestTest
//! 190_failure_store_redirection.yml, 240_failure_store_info.yml, 230_data_stream_options.yml)

use super::{ApiResult, ok};
use crate::catalog::{IndexMeta, WriteTarget, glob_match};
use crate::error::{EsError, EsResult};
use crate::ingest::bulk::OpType;
use crate::ingest::pipeline::FailureOrigin;
use crate::ingest::write::{self, WriteOp, WriteResult};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Kind of the metadata documents holding a data stream's options (name = the stream).
pub const OPTIONS: &str = "data_stream_options";

/// Validates `data_stream_options` as DataStreamOptions#fromXContent reads it:
/// `{"failure_store": {"enabled": bool}}` (`lifecycle` of the failure store is not implemented).
pub fn parse_options(v: &Value, what: &str) -> EsResult<Value> {
    let Some(m) = v.as_object() else {
        return Err(EsError::x_content_parse(format!(
            "[{what}] data_stream_options must be an object"
        )));
    };
    let mut out = Map::new();
    for (k, fs) in m {
        match k.as_str() {
            "failure_store" => {
                if fs.is_null() {
                    out.insert(k.clone(), Value::Null);
                    continue;
                }
                let Some(fm) = fs.as_object() else {
                    return Err(EsError::x_content_parse(
                        "[data_stream_options] failed to parse field [failure_store]",
                    ));
                };
                let mut f = Map::new();
                for (fk, fv) in fm {
                    match (fk.as_str(), fv) {
                        ("enabled", Value::Bool(_) | Value::Null) => {
                            f.insert(fk.clone(), fv.clone());
                        }
                        ("enabled", Value::String(b)) if b == "true" || b == "false" => {
                            f.insert(fk.clone(), json!(b == "true"));
                        }
                        ("enabled", _) => {
                            return Err(EsError::x_content_parse(
                                "[failure_store] failed to parse field [enabled]",
                            ));
                        }
                        ("lifecycle", _) => {
                            return Err(EsError::unsupported(
                                "data_stream_options [failure_store.lifecycle]",
                            ));
                        }
                        (other, _) => {
                            return Err(EsError::x_content_parse(format!(
                                "[failure_store] unknown field [{other}]"
                            )));
                        }
                    }
                }
                out.insert(k.clone(), Value::Object(f));
            }
            other => {
                return Err(EsError::x_content_parse(format!(
                    "[data_stream_options] unknown field [{other}]"
                )));
            }
        }
    }
    Ok(Value::Object(out))
}

fn enabled_in(options: Option<&Value>) -> Option<bool> {
    options?.pointer("/failure_store/enabled")?.as_bool()
}

/// The cluster setting `data_streams.failure_store.enabled` (patterns of data stream names; not
/// for dot-prefixed, internal, streams: DataStreamFailureStoreSettings).
fn enabled_by_cluster(s: &AppState, name: &str) -> bool {
    !name.starts_with('.')
        && s.cfg
            .data_streams_failure_store_enabled
            .iter()
            .any(|p| glob_match(p, name))
}

/// The options recorded on data stream `name`, if any.
pub async fn stream_options(s: &AppState, name: &str) -> EsResult<Option<Value>> {
    let docs = s.catalog.metadata_docs().await?;
    Ok(docs.get(&(OPTIONS.to_string(), name.to_string())).cloned())
}

/// Whether the failure store of existing data stream `name` is enabled
/// (DataStream#isFailureStoreEffectivelyEnabled).
pub async fn enabled(s: &AppState, name: &str) -> EsResult<bool> {
    let opts = stream_options(s, name).await?;
    Ok(enabled_in(opts.as_ref()).unwrap_or_else(|| enabled_by_cluster(s, name)))
}

/// Records the options a new data stream gets from its template (or forgets those of an older
/// stream of the same name when the template has none).
pub async fn record_options(s: &AppState, name: &str, options: Option<&Value>) -> EsResult<()> {
    match options.filter(|o| o.as_object().is_some_and(|m| !m.is_empty())) {
        Some(o) => s.catalog.put_metadata_doc(OPTIONS, name, Some(o)).await,
        None if stream_options(s, name).await?.is_some() => {
            s.catalog.put_metadata_doc(OPTIONS, name, None).await
        }
        None => Ok(()),
    }
}

/// The name of failure index generation `generation` of `stream`, created now.
pub fn failure_index_name(stream: &str, generation: u64) -> String {
    let date = chrono::Utc::now().format("%Y.%m.%d");
    format!(".fs-{stream}-{date}-{generation:06}")
}

/// The mapping of every failure index (DataStreamFailureStoreDefinition).
fn failure_mappings() -> EsResult<crate::schema::Mappings> {
    let kw = || json!({"type": "keyword"});
    crate::schema::parse_mapping_request(&json!({
        "dynamic": false,
        "properties": {
            "@timestamp": {"type": "date", "ignore_malformed": false},
            "document": {"properties": {"id": kw(), "routing": kw(), "index": kw()}},
            "error": {"properties": {
                "message": {"type": "match_only_text"},
                "stack_trace": {"type": "text"},
                "type": kw(),
                "pipeline": kw(),
                "pipeline_trace": kw(),
                "processor_tag": kw(),
                "processor_type": kw(),
            }},
        }
    }))
}

/// The highest generation among a stream's backing and failure indices (DataStream#getGeneration).
pub fn generation(view: &crate::catalog::View, stream: &str) -> u64 {
    view.data_streams
        .get(stream)
        .into_iter()
        .chain(view.failure_stores.get(stream))
        .flatten()
        .map(|m| crate::catalog::backing_generation(&m.name))
        .max()
        .unwrap_or(0)
}

/// Creates the next failure index of `stream` (a rollover of its failure store):
/// generation `generation(stream) + 1`, or `first` when given (a stream created with its failure
/// store starts both at generation 1).
pub async fn rollover(s: &AppState, stream: &str, first: Option<u64>) -> EsResult<Arc<IndexMeta>> {
    let view = s.catalog.view().await?;
    let generation = first.unwrap_or_else(|| generation(&view, stream) + 1);
    let name = failure_index_name(stream, generation);
    let settings = json!({"hidden": "true", "failure_store": {"version": "1"}});
    let meta = s
        .catalog
        .create_with(
            &name,
            failure_mappings()?,
            settings,
            Default::default(),
            Some(stream.to_string()),
        )
        .await?;
    tracing::info!(data_stream = stream, failure_index = %name, "failure store index created");
    Ok(meta)
}

/// The write index of `stream`'s failure store, created on first use; the data stream itself is
/// created first when it does not exist yet (an ingest failure of its first document).
async fn write_index(s: &AppState, stream: &str) -> EsResult<Arc<IndexMeta>> {
    let mut created = false;
    if matches!(s.catalog.write_target(stream).await?, WriteTarget::Missing) {
        let plan = super::templates::compose(s, stream, None).await?;
        if plan.data_stream.is_none() {
            return Err(EsError::index_not_found(stream));
        }
        super::data_streams::create(s, stream, plan).await?;
        created = true;
    }
    let lock = s.catalog.write_lock(&format!("\u{0}data_stream {stream}"));
    let _g = lock.lock().await;
    if let Some(m) = s
        .catalog
        .view()
        .await?
        .failure_stores
        .get(stream)
        .and_then(|f| f.last())
    {
        return Ok(m.clone());
    }
    rollover(s, stream, created.then_some(1)).await
}

/// A failure document (FailureStoreDocumentConverter#createSource). `stack_trace` is the error
/// and its causes as `type: reason` lines: elastichouse has no Java stack to show.
pub fn failure_document(
    error: &EsError,
    origin: Option<&FailureOrigin>,
    index: &str,
    id: Option<&str>,
    source: Map<String, Value>,
) -> Value {
    let mut document = Map::new();
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        document.insert("id".into(), json!(id));
    }
    document.insert("index".into(), json!(index));
    document.insert("source".into(), Value::Object(source));
    let mut stack = format!("{}: {}", error.kind, error.reason);
    let mut cause = error.caused_by.as_deref();
    while let Some(c) = cause {
        stack.push_str(&format!("\nCaused by: {}: {}", c.kind, c.reason));
        cause = c.caused_by.as_deref();
    }
    let mut err = Map::new();
    err.insert("type".into(), json!(error.kind));
    err.insert("message".into(), json!(error.reason));
    err.insert("stack_trace".into(), json!(stack));
    if let Some(o) = origin {
        if let Some(last) = o.pipeline_trace.last() {
            err.insert("pipeline_trace".into(), json!(o.pipeline_trace));
            err.insert("pipeline".into(), json!(last));
        }
        if let Some(t) = &o.processor_tag {
            err.insert("processor_tag".into(), json!(t));
        }
        if let Some(t) = &o.processor_type {
            err.insert("processor_type".into(), json!(t));
        }
    }
    json!({
        "@timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "document": document,
        "error": err,
    })
}

/// What the failure store did for one item (IndexDocFailureStoreStatus; `not_applicable` is
/// never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Used,
    NotEnabled,
    Failed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Used => "used",
            Status::NotEnabled => "not_enabled",
            Status::Failed => "failed",
        }
    }
}

/// A failed item that may go to a failure store.
struct Candidate {
    stream: String,
    id: Option<String>,
    source: Vec<u8>,
    /// An ingest failure (with where it happened); `None` for an item still to be written.
    failure: Option<(EsError, Option<FailureOrigin>)>,
}

/// The failure store side of one `_bulk` request: which targets are data streams with a failure
/// store, and, per batch, the items that failed (or may fail) and go there.
#[derive(Default)]
pub struct Redirect {
    /// Write target → `None` (not a data stream), `Some(enabled)`.
    targets: HashMap<String, Option<bool>>,
    /// Positions in the batch → candidates.
    candidates: BTreeMap<usize, Candidate>,
    /// Positions in the batch of items of data streams without a failure store.
    not_enabled: HashSet<usize>,
    /// Of those, the ones that already failed in their pipeline.
    not_enabled_failed: HashSet<usize>,
}

impl Redirect {
    /// Starts a new batch (positions restart at 0).
    pub fn begin_batch(&mut self) {
        self.candidates.clear();
        self.not_enabled.clear();
        self.not_enabled_failed.clear();
    }

    async fn target(&mut self, s: &AppState, index: &str) -> EsResult<Option<bool>> {
        if let Some(t) = self.targets.get(index) {
            return Ok(*t);
        }
        let t = match s.catalog.write_target(index).await? {
            WriteTarget::DataStream(_) => Some(enabled(s, index).await?),
            WriteTarget::Missing => match super::templates::compose(s, index, None).await {
                Ok(plan) if plan.data_stream.is_some() => Some(
                    enabled_in(plan.data_stream_options.as_ref())
                        .unwrap_or_else(|| enabled_by_cluster(s, index)),
                ),
                _ => None,
            },
            _ => None,
        };
        self.targets.insert(index.to_string(), t);
        Ok(t)
    }

    /// An item whose pipeline failed (IngestService: redirected with the document as it came).
    pub async fn ingest_failed(
        &mut self,
        s: &AppState,
        pos: usize,
        index: &str,
        op: &WriteOp,
        error: &EsError,
        origin: Option<FailureOrigin>,
    ) -> EsResult<()> {
        let Some(source) = op.source.as_ref().filter(|_| op.op != OpType::Update) else {
            return Ok(());
        };
        match self.target(s, index).await? {
            None => {}
            Some(false) => {
                self.not_enabled.insert(pos);
                self.not_enabled_failed.insert(pos);
            }
            Some(true) => {
                self.candidates.insert(
                    pos,
                    Candidate {
                        stream: index.to_string(),
                        id: op.id.clone(),
                        source: source.clone(),
                        failure: Some((error.clone(), origin)),
                    },
                );
            }
        }
        Ok(())
    }

    /// An item about to be written to `index`: for a data stream with a failure store its
    /// document is kept, in case the write fails (BulkOperation#processFailure).
    pub async fn writing(
        &mut self,
        s: &AppState,
        pos: usize,
        index: &str,
        op: &WriteOp,
    ) -> EsResult<()> {
        if !matches!(op.op, OpType::Index | OpType::Create) {
            return Ok(());
        }
        match self.target(s, index).await? {
            None => {}
            Some(false) => {
                self.not_enabled.insert(pos);
            }
            Some(true) => {
                if let Some(source) = &op.source {
                    self.candidates.insert(
                        pos,
                        Candidate {
                            stream: index.to_string(),
                            id: op.id.clone(),
                            source: source.clone(),
                            failure: None,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Whether nothing of this batch concerns a failure store.
    pub fn is_idle(&self) -> bool {
        self.candidates.is_empty() && self.not_enabled.is_empty()
    }

    /// After the batch was written: writes its failed items that may go to a failure store there,
    /// replacing their results by the failure store's, and returns each item's failure store
    /// status. A failure document that cannot be written leaves the item's own error (`failed`).
    pub async fn settle(
        &mut self,
        s: &AppState,
        results: &mut [WriteResult],
    ) -> Vec<Option<Status>> {
        let mut status = vec![None; results.len()];
        for &pos in &self.not_enabled {
            let failed = self.not_enabled_failed.contains(&pos)
                || results[pos]
                    .outcome
                    .as_ref()
                    .is_err_and(shard_failure_redirects);
            if failed {
                status[pos] = Some(Status::NotEnabled);
            }
        }
        let mut by_stream: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
        for (pos, c) in std::mem::take(&mut self.candidates) {
            let Some(r) = results.get(pos) else { continue };
            let (error, origin, id) = match c.failure {
                Some((e, o)) => (e, o, c.id),
                None => match &r.outcome {
                    Err(e) if shard_failure_redirects(e) => (e.clone(), None, Some(r.id.clone())),
                    _ => continue,
                },
            };
            let source = match serde_json::from_slice::<Value>(&c.source) {
                Ok(Value::Object(m)) => m,
                _ => {
                    status[pos] = Some(Status::Failed);
                    continue;
                }
            };
            let doc = failure_document(&error, origin.as_ref(), &c.stream, id.as_deref(), source);
            by_stream.entry(c.stream).or_default().push((pos, doc));
        }
        for (stream, docs) in by_stream {
            let (positions, docs): (Vec<usize>, Vec<Value>) = docs.into_iter().unzip();
            let stored = match write_index(s, &stream).await {
                Ok(fs) => {
                    let ops = docs
                        .iter()
                        .map(|d| WriteOp {
                            op: OpType::Create,
                            id: None,
                            source: Some(serde_json::to_vec(d).expect("JSON")),
                            update: None,
                            if_seq_no: None,
                            if_primary_term: None,
                        })
                        .collect();
                    write::apply(s, &fs.name, ops).await
                }
                Err(e) => Err(e),
            };
            match stored {
                Ok(rs) => {
                    for (pos, r) in positions.into_iter().zip(rs) {
                        if r.outcome.is_ok() {
                            results[pos] = r;
                            status[pos] = Some(Status::Used);
                        } else {
                            tracing::warn!(data_stream = %stream, error = ?r.outcome.err(), "failure document not stored");
                            status[pos] = Some(Status::Failed);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(data_stream = %stream, error = %e.reason, "failure store not written");
                    for pos in positions {
                        status[pos] = Some(Status::Failed);
                    }
                }
            }
        }
        status
    }
}

/// Whether a failed write goes to the failure store: anything but a version conflict
/// (BulkOperation#processFailure), and not what Elasticsearch refuses before the shards
/// (`index` operations on a data stream) nor an unavailable ClickHouse (the failure document would
/// fail the same way).
fn shard_failure_redirects(e: &EsError) -> bool {
    e.kind != "version_conflict_engine_exception"
        && e.status < 500
        && !e
            .reason
            .starts_with("only write ops with an op_type of create")
}

/// Appends the bulk item of a result with its failure store status: `failure_store` after
/// `_primary_term` (IndexResponse#innerToXContent) or between `status` and `error`
/// (BulkItemResponse#toXContent).
pub fn write_item(out: &mut Vec<u8>, r: &WriteResult, op: OpType, refresh: bool, st: Status) {
    let inner = match &r.outcome {
        Ok(d) => {
            let mut v = r.body(refresh);
            v["failure_store"] = json!(st.label());
            v["status"] = json!(d.status);
            v
        }
        Err(e) => json!({
            "_index": r.index,
            "_id": r.id,
            "status": e.status,
            "failure_store": st.label(),
            "error": e.body(),
        }),
    };
    serde_json::to_writer(&mut *out, &json!({ op.name(): inner })).expect("JSON to memory");
}

// ---------------------------------------------------------------------------------------------
// `GET|PUT|DELETE /_data_stream/{name}/_options` (RestGetDataStreamOptionsAction, …)
// ---------------------------------------------------------------------------------------------

async fn streams(s: &AppState, expr: &str) -> EsResult<Vec<String>> {
    let view = s.catalog.view().await?;
    let mut out = Vec::new();
    for p in expr.split(',') {
        let p = if p == "_all" { "*" } else { p };
        if p.contains('*') {
            out.extend(
                view.data_streams
                    .keys()
                    .filter(|n| glob_match(p, n))
                    .cloned(),
            );
        } else if view.data_streams.contains_key(p) {
            out.push(p.to_string());
        } else {
            return Err(EsError::index_not_found(p));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn get_options(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let mut list = Vec::new();
    for n in streams(&s, &name).await? {
        let mut v = json!({ "name": n });
        if let Some(o) = stream_options(&s, &n).await? {
            v["options"] = o;
        }
        list.push(v);
    }
    Ok(ok(json!({ "data_streams": list })).into_response())
}

pub async fn put_options(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = super::parse_body(&body)?.unwrap_or(json!({}));
    let opts = parse_options(&body, "data_stream_options")?;
    for n in streams(&s, &name).await? {
        s.catalog.put_metadata_doc(OPTIONS, &n, Some(&opts)).await?;
        tracing::info!(data_stream = %n, options = %opts, "data stream options updated");
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

pub async fn delete_options(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    for n in streams(&s, &name).await? {
        if stream_options(&s, &n).await?.is_some() {
            s.catalog.put_metadata_doc(OPTIONS, &n, None).await?;
        }
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}
