//! Ingest pipeline APIs (`/_ingest/pipeline`, `_simulate`, `/_ingest/processor/grok`) and the
//! hook the write path calls to run a document's pipelines.
//!
//! Pipelines are kept in the metadata table (kind `ingest_pipeline`), so every daemon on the same
//! ClickHouse sees them. The compiled pipelines are cached with the metadata snapshot they came
//! from (recompiled when the snapshot is reloaded).
//! (Elasticsearch: RestPutPipelineAction, RestGetPipelineAction, RestDeletePipelineAction,
//! RestSimulatePipelineAction, GrokProcessorGetAction; IngestService#executePipelines)

use super::{ApiResult, EsJson, Params, flag, parse_body};
use crate::catalog::{MetadataDocs, WriteTarget, glob_match};
use crate::error::{EsError, EsResult};
use crate::ingest::pipeline::{self, Env, Flow, IngestDoc, Outcome, Pipeline, Registry};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const PIPELINE: &str = "ingest_pipeline";

fn ok(v: Value) -> EsJson {
    EsJson(StatusCode::OK, v)
}

async fn definitions(s: &AppState) -> EsResult<(MetadataDocs, BTreeMap<String, Value>)> {
    let docs = s.catalog.metadata_docs().await?;
    let defs = docs
        .iter()
        .filter(|((k, _), _)| k == PIPELINE)
        .map(|((_, n), v)| (n.clone(), v.clone()))
        .collect();
    Ok((docs, defs))
}

type Cached = (MetadataDocs, Arc<Registry>, Arc<HashMap<String, EsError>>);

/// The compiled pipelines of the current metadata snapshot.
pub async fn registry(s: &AppState) -> EsResult<(Arc<Registry>, Arc<HashMap<String, EsError>>)> {
    static CACHE: parking_lot::Mutex<Option<Cached>> = parking_lot::Mutex::new(None);
    let (docs, defs) = definitions(s).await?;
    if let Some((d, r, bad)) = CACHE.lock().as_ref()
        && Arc::ptr_eq(d, &docs)
    {
        return Ok((r.clone(), bad.clone()));
    }
    let (reg, bad) = pipeline::registry(&defs);
    let (reg, bad) = (Arc::new(reg), Arc::new(bad));
    *CACHE.lock() = Some((docs, reg.clone(), bad.clone()));
    Ok((reg, bad))
}

fn validate_id(id: &str) -> EsResult<()> {
    if id.is_empty() || id.contains(['*', ',', ' ', '"', '\\', '/', '?', '<', '>', '|']) {
        return Err(EsError::illegal_argument(format!(
            "Invalid pipeline id [{id}]: must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
        )));
    }
    Ok(())
}

/// `PUT /_ingest/pipeline/{id}` (with `if_version`).
pub async fn put_pipeline(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    validate_id(&id)?;
    let body = parse_body(&body)?.ok_or_else(|| EsError::parsing("request body is required"))?;
    if let Some(v) = body.get("version")
        && !v.is_i64()
    {
        return Err(EsError::parsing(format!(
            "[version] must be an integer, found [{v}]"
        )));
    }
    if let Some(m) = body.get("_meta")
        && !m.is_object()
    {
        return Err(EsError::parsing("[_meta] must be an object"));
    }
    Pipeline::compile(&id, &body)?;
    let (_, defs) = definitions(&s).await?;
    if let Some(want) = p.get("if_version") {
        let want: i64 = want.parse().map_err(|_| {
            EsError::illegal_argument(format!("Failed to parse [if_version] with value [{want}]"))
        })?;
        match defs.get(&id) {
            None => {
                return Err(EsError::illegal_argument(format!(
                    "version conflict, required version [{want}] for pipeline [{id}] but no pipeline was found"
                )));
            }
            Some(cur) => {
                let have = cur.get("version").and_then(Value::as_i64);
                if have != Some(want) {
                    return Err(EsError::illegal_argument(format!(
                        "version conflict, required version [{want}] for pipeline [{id}] but current version is [{}]",
                        have.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
                    )));
                }
                // Elasticsearch: a new version must differ from the one replaced.
                if body.get("version").and_then(Value::as_i64) == Some(want) {
                    return Err(EsError::illegal_argument(format!(
                        "cannot update pipeline [{id}] with the same version [{want}]"
                    )));
                }
            }
        }
    }
    s.catalog
        .put_metadata_doc(PIPELINE, &id, Some(&body))
        .await?;
    tracing::info!(pipeline = %id, "ingest pipeline stored");
    Ok(ok(json!({"acknowledged": true})).into_response())
}

fn select<'a>(
    defs: &'a BTreeMap<String, Value>,
    ids: Option<&str>,
) -> Vec<(&'a String, &'a Value)> {
    let pats: Vec<&str> = ids
        .map(|n| n.split(',').collect())
        .unwrap_or_else(|| vec!["*"]);
    defs.iter()
        .filter(|(n, _)| pats.iter().any(|p| glob_match(p, n)))
        .collect()
}

async fn get_impl(s: &AppState, ids: Option<&str>, p: &Params) -> ApiResult {
    let (_, defs) = definitions(s).await?;
    let summary = flag(p, "summary")?;
    let found = select(&defs, ids);
    let mut out = Map::new();
    for (n, v) in &found {
        out.insert((*n).clone(), if summary { json!({}) } else { (*v).clone() });
    }
    // GetPipelineResponse: 404 with `{}` when an id was asked for and nothing matched.
    let status = if found.is_empty() && ids.is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(EsJson(status, Value::Object(out)).into_response())
}

pub async fn get_pipelines(State(s): State<AppState>, Query(p): Query<Params>) -> ApiResult {
    get_impl(&s, None, &p).await
}

pub async fn get_pipeline(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> ApiResult {
    get_impl(&s, Some(&id), &p).await
}

/// `DELETE /_ingest/pipeline/{id}` (wildcards and lists).
pub async fn delete_pipeline(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let (_, defs) = definitions(&s).await?;
    let found: Vec<String> = select(&defs, Some(&id))
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect();
    if found.is_empty() && !id.contains('*') {
        return Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("pipeline [{id}] is missing"),
        ));
    }
    for n in &found {
        s.catalog.put_metadata_doc(PIPELINE, n, None).await?;
    }
    Ok(ok(json!({"acknowledged": true})).into_response())
}

/// `GET /_ingest/processor/grok`: the built-in patterns.
pub async fn grok_patterns(Query(p): Query<Params>) -> ApiResult {
    if let Some(e) = p.get("ecs_compatibility")
        && e != "disabled"
    {
        return Err(EsError::unsupported(format!(
            "grok pattern set [ecs_compatibility={e}] (the legacy set, disabled, is served)"
        )));
    }
    let mut pats: Vec<(&str, &str)> = pipeline::parse::grok_patterns();
    if flag(&p, "s")? {
        pats.sort();
    }
    let mut m = Map::new();
    for (k, v) in pats {
        m.insert(k.to_string(), json!(v));
    }
    Ok(ok(json!({"patterns": m})).into_response())
}

async fn simulate_impl(s: &AppState, id: Option<&str>, p: &Params, body: &[u8]) -> ApiResult {
    let verbose = flag(p, "verbose")?;
    let body = parse_body(body)?.ok_or_else(|| EsError::parsing("request body is required"))?;
    let (reg, bad) = registry(s).await?;
    let pipeline: Arc<Pipeline> = match (id, body.get("pipeline")) {
        (Some(id), _) => match reg.get(id) {
            Some(p) => p.clone(),
            None => {
                return Err(bad
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| pipeline::missing_pipeline(id)));
            }
        },
        (None, Some(def)) => Arc::new(Pipeline::compile("_simulate_pipeline", def)?),
        (None, None) => {
            return Err(pipeline::config_error(
                "pipeline",
                None,
                Some("pipeline"),
                "[pipeline] required property is missing".into(),
            ));
        }
    };
    let Some(docs) = body.get("docs") else {
        return Err(pipeline::config_error(
            "pipeline",
            None,
            Some("docs"),
            "[docs] required property is missing".into(),
        ));
    };
    let Some(docs) = docs.as_array() else {
        return Err(EsError::parsing("[docs] must be a list"));
    };
    if docs.is_empty() {
        return Err(EsError::parsing(
            "must specify at least one document in [docs]",
        ));
    }
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let Some(src) = d.get("_source").and_then(Value::as_object) else {
            return Err(pipeline::config_error(
                "pipeline",
                None,
                Some("_source"),
                "[_source] required property is missing".into(),
            ));
        };
        let str_of = |k: &str, dflt: &str| -> String {
            match d.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(v) if !v.is_null() => v.to_string(),
                _ => dflt.to_string(),
            }
        };
        let mut doc = IngestDoc::new(
            &str_of("_index", "_index"),
            Some(&str_of("_id", "_id")),
            d.get("_routing").and_then(Value::as_str),
            src.clone(),
        );
        let mut env = Env::new(&reg);
        if verbose {
            env.trace = Some(parking_lot::Mutex::new(Vec::new()));
        }
        let r = pipeline.run(&mut doc, &env);
        if verbose {
            let results = env.trace.take().map(|t| t.into_inner()).unwrap_or_default();
            out.push(json!({"processor_results": results}));
            continue;
        }
        out.push(match r {
            Ok(Flow::Continue) => json!({"doc": doc.simulate_json()}),
            Ok(Flow::Drop) => Value::Null,
            Err(e) => json!({"error": e.to_json()["error"].clone()}),
        });
    }
    Ok(ok(json!({"docs": out})).into_response())
}

pub async fn simulate(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    simulate_impl(&s, None, &p, &body).await
}

pub async fn simulate_id(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    simulate_impl(&s, Some(&id), &p, &body).await
}

// ---------------------------------------------------------------------------------------------
// The write path's hook
// ---------------------------------------------------------------------------------------------

/// `index.default_pipeline` / `index.final_pipeline` of a write target (for an index still to be
/// created: of the templates that will shape it).
async fn index_pipelines(s: &AppState, index: &str) -> EsResult<(Option<String>, Option<String>)> {
    let settings = match s.catalog.write_target(index).await? {
        WriteTarget::Index(m) | WriteTarget::Alias(m) | WriteTarget::DataStream(m) => {
            m.settings.clone()
        }
        WriteTarget::Missing => match super::templates::compose(s, index, None).await {
            Ok(c) => c.settings,
            Err(_) => Value::Null,
        },
    };
    let get = |k: &str| {
        settings
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Ok((get("default_pipeline"), get("final_pipeline")))
}

/// The pipelines of one request: compiled once, with the per-index settings looked up once.
pub struct Ingest {
    reg: Arc<Registry>,
    bad: Arc<HashMap<String, EsError>>,
    per_index: HashMap<String, (Option<String>, Option<String>)>,
    /// Where the last failed document's pipeline failed (for the failure store).
    failure: Option<pipeline::FailureOrigin>,
}

/// What the write path does with a document after its pipelines ran.
pub enum Prepared {
    /// No pipeline applies: write the bytes as they came.
    Unchanged,
    /// Write this (possibly re-routed, re-identified) document.
    Changed {
        index: String,
        id: Option<String>,
        source: Vec<u8>,
    },
    /// A `drop` processor dropped it: the item answers `noop`.
    Dropped,
}

impl Ingest {
    pub async fn load(s: &AppState) -> EsResult<Ingest> {
        let (reg, bad) = registry(s).await?;
        Ok(Ingest {
            reg,
            bad,
            per_index: HashMap::new(),
            failure: None,
        })
    }

    async fn of_index(
        &mut self,
        s: &AppState,
        index: &str,
    ) -> EsResult<(Option<String>, Option<String>)> {
        if self.reg.is_empty() && self.bad.is_empty() {
            return Ok((None, None));
        }
        if let Some(p) = self.per_index.get(index) {
            return Ok(p.clone());
        }
        let p = index_pipelines(s, index).await?;
        self.per_index.insert(index.to_string(), p.clone());
        Ok(p)
    }

    fn check(&self, id: &str) -> EsResult<()> {
        if id == "_none" || self.reg.contains_key(id) {
            return Ok(());
        }
        Err(match self.bad.get(id) {
            Some(e) => e.clone(),
            None => pipeline::missing_pipeline(id),
        })
    }

    /// Where the pipeline of the last document [`Ingest::prepare`] failed on failed, if a
    /// processor did (the failure store's `error.pipeline_trace`, `processor_type`, …).
    pub fn take_failure(&mut self) -> Option<pipeline::FailureOrigin> {
        self.failure.take()
    }

    fn run(&mut self, p: &str, doc: IngestDoc) -> EsResult<Outcome> {
        pipeline::execute_traced(&self.reg, Some(p), None, doc).map_err(|(e, origin)| {
            self.failure = origin;
            e
        })
    }

    /// Runs the request's pipeline (or the index's default pipeline) and the final pipeline on
    /// one document (IngestService#executePipelines). `pipeline` is the request's `pipeline`
    /// parameter (`_none` disables the default pipeline).
    pub async fn prepare(
        &mut self,
        s: &AppState,
        index: &str,
        id: Option<&str>,
        pipeline: Option<&str>,
        source: &[u8],
    ) -> EsResult<Prepared> {
        self.failure = None;
        let (default, final_) = self.of_index(s, index).await?;
        let first = match pipeline {
            Some(p) => Some(p.to_string()),
            None => default,
        }
        .filter(|p| p != "_none");
        let final_ = final_.filter(|p| p != "_none");
        if first.is_none() && final_.is_none() {
            return Ok(Prepared::Unchanged);
        }
        for p in first.iter().chain(final_.iter()) {
            self.check(p)?;
        }
        let src: Value = serde_json::from_slice(source)
            .map_err(|e| EsError::document_parsing(format!("[1:1] failed to parse: {e}")))?;
        let Value::Object(src) = src else {
            return Err(EsError::document_parsing(
                "[1:1] failed to parse: the document must be an object",
            ));
        };
        let mut doc = IngestDoc::new(index, id, None, src);
        if let Some(p) = &first {
            match self.run(p, doc)? {
                Outcome::Drop => return Ok(Prepared::Dropped),
                Outcome::Index(d) => doc = d,
            }
        }
        // A re-routed document gets the final pipeline of its new index.
        let new_index = doc.index();
        let final_ = if new_index != index {
            crate::catalog::validate_index_name(&new_index)?;
            self.of_index(s, &new_index)
                .await?
                .1
                .filter(|p| p != "_none")
        } else {
            final_
        };
        if let Some(p) = &final_ {
            self.check(p)?;
            match self.run(p, doc)? {
                Outcome::Drop => return Ok(Prepared::Dropped),
                Outcome::Index(d) => doc = d,
            }
        }
        let index = doc.index();
        let id = doc.id();
        let source = serde_json::to_vec(&Value::Object(doc.source()))
            .map_err(|e| EsError::storage(format!("cannot serialise the document: {e}")))?;
        Ok(Prepared::Changed { index, id, source })
    }
}

/// The bulk item (or single-document answer) of a document a `drop` processor dropped:
/// Elasticsearch answers a `noop` update response with id `auto-generated` when the request had
/// none, version -3 (Versions.MATCH_ANY), no sequence number and empty shard counts
/// (TransportBulkAction / IngestService BulkRequestModifier#markItemAsDropped).
pub fn dropped_body(index: &str, id: Option<&str>) -> Value {
    json!({
        "_index": index,
        "_id": id.unwrap_or("auto-generated"),
        "_version": -3,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
    })
}

/// Where a write goes after its pipelines ran.
pub enum OpOutcome {
    /// Write `op` (its source possibly rewritten) to this index.
    Write(String),
    /// A `drop` processor dropped the document.
    Dropped,
}

impl Ingest {
    /// Runs the pipelines of one write operation: on the source of an index/create, on the
    /// `upsert` document of an update (or its `doc` with `doc_as_upsert`), as Elasticsearch's
    /// IngestService does with TransportBulkAction#getIndexWriteRequest. Deletes pass through.
    pub async fn prepare_op(
        &mut self,
        s: &AppState,
        index: &str,
        op: &mut crate::ingest::write::WriteOp,
        pipeline: Option<&str>,
    ) -> EsResult<OpOutcome> {
        use crate::ingest::bulk::OpType;
        match op.op {
            OpType::Delete => Ok(OpOutcome::Write(index.to_string())),
            OpType::Index | OpType::Create => {
                let Some(src) = &op.source else {
                    return Ok(OpOutcome::Write(index.to_string()));
                };
                match self
                    .prepare(s, index, op.id.as_deref(), pipeline, src)
                    .await?
                {
                    Prepared::Unchanged => Ok(OpOutcome::Write(index.to_string())),
                    Prepared::Dropped => Ok(OpOutcome::Dropped),
                    Prepared::Changed { index, id, source } => {
                        op.id = id;
                        op.source = Some(source);
                        Ok(OpOutcome::Write(index))
                    }
                }
            }
            OpType::Update => {
                let Some(u) = op.update.as_mut() else {
                    return Ok(OpOutcome::Write(index.to_string()));
                };
                let key = if u.get("doc_as_upsert").and_then(Value::as_bool) == Some(true) {
                    "doc"
                } else {
                    "upsert"
                };
                let Some(doc) = u.get(key).filter(|v| v.is_object()) else {
                    return Ok(OpOutcome::Write(index.to_string()));
                };
                let bytes = serde_json::to_vec(doc)
                    .map_err(|e| EsError::storage(format!("cannot serialise the upsert: {e}")))?;
                match self
                    .prepare(s, index, op.id.as_deref(), pipeline, &bytes)
                    .await?
                {
                    Prepared::Unchanged => Ok(OpOutcome::Write(index.to_string())),
                    Prepared::Dropped => Ok(OpOutcome::Dropped),
                    Prepared::Changed { source, .. } => {
                        let v: Value = serde_json::from_slice(&source).map_err(|e| {
                            EsError::storage(format!("cannot read the upsert back: {e}"))
                        })?;
                        u.insert(key.to_string(), v);
                        Ok(OpOutcome::Write(index.to_string()))
                    }
                }
            }
        }
    }
}
