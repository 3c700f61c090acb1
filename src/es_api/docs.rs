//! Single-document APIs: index, create, update, delete, get, exists, `_source`, `_mget`.

use super::{ApiResult, EsJson, Params, flag, parse_body};
use crate::catalog::{COL_ID, COL_SEQ_NO, COL_VERSION, IndexMeta};
use crate::error::EsError;
use crate::ingest::bulk::OpType;
use crate::ingest::write::{self, WriteOp};
use crate::render::SourceFilter;
use crate::server::AppState;
use crate::sql;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// A document as stored.
pub struct StoredDoc {
    pub version: u64,
    pub seq_no: u64,
    pub source: String,
}

/// Reads live documents by id.
pub async fn fetch_docs(
    s: &AppState,
    meta: &IndexMeta,
    ids: &[String],
) -> Result<HashMap<String, StoredDoc>, EsError> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let q = sql::Select {
        items: vec![
            sql::col(COL_ID).alias("id"),
            sql::col(COL_VERSION).alias("v"),
            sql::col(COL_SEQ_NO).alias("seq"),
            meta.source_expr().alias("s"),
        ],
        from: Some(sql::FromClause::table(s.catalog.db(), meta.table())),
        rows: meta.rows(),
        where_: Some(sql::col(COL_ID).in_list(ids.iter().map(|i| sql::lit(i.as_str())).collect())),
        ..Default::default()
    };
    if !meta.managed {
        return Err(EsError::unsupported(
            "get by _id on a ClickHouse table elastichouse did not create",
        ));
    }
    for r in s.ch.query_rows(&q).await? {
        out.insert(
            r["id"].as_str().unwrap_or_default().to_string(),
            StoredDoc {
                version: r["v"].as_u64().unwrap_or(0),
                seq_no: r["seq"].as_u64().unwrap_or(0),
                source: r["s"].as_str().unwrap_or_default().to_string(),
            },
        );
    }
    Ok(out)
}

#[derive(Serialize)]
struct GetResponse<'a> {
    _index: &'a str,
    _id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    _version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _seq_no: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _primary_term: Option<u64>,
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    _source: Option<Box<RawValue>>,
}

fn get_body<'a>(
    index: &'a str,
    id: &'a str,
    doc: Option<&StoredDoc>,
    filter: &SourceFilter,
) -> GetResponse<'a> {
    match doc {
        Some(d) => GetResponse {
            _index: index,
            _id: id,
            _version: Some(d.version),
            _seq_no: Some(d.seq_no),
            _primary_term: Some(1),
            found: true,
            _source: filter.apply(&d.source),
        },
        None => GetResponse {
            _index: index,
            _id: id,
            _version: None,
            _seq_no: None,
            _primary_term: None,
            found: false,
            _source: None,
        },
    }
}

/// A JSON answer serialised from a struct (so `RawValue`s keep their bytes).
pub fn raw_json(status: StatusCode, v: &impl Serialize) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn get(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> ApiResult {
    let meta = s.catalog.require_single(&index).await?;
    let docs = fetch_docs(&s, &meta, std::slice::from_ref(&id)).await?;
    let filter = if meta.source_shown() {
        SourceFilter::from_params(&p)
    } else {
        SourceFilter::None
    };
    let d = docs.get(&id);
    let status = if d.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(raw_json(status, &get_body(&meta.name, &id, d, &filter)))
}

pub async fn exists(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
) -> ApiResult {
    let meta = s.catalog.require_single(&index).await?;
    let docs = fetch_docs(&s, &meta, std::slice::from_ref(&id)).await?;
    let status = if docs.contains_key(&id) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, [(header::CONTENT_TYPE, "application/json")]).into_response())
}

pub async fn get_source(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> ApiResult {
    let meta = s.catalog.require_single(&index).await?;
    let docs = fetch_docs(&s, &meta, std::slice::from_ref(&id)).await?;
    match docs.get(&id) {
        // RestGetSourceAction: a document without source is not found there.
        Some(_) if !meta.source_shown() => Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("Source not found [{index}]/[{id}]"),
        )),
        Some(d) => {
            let filter = SourceFilter::from_params(&p);
            let body = match filter {
                SourceFilter::None => "{}".to_string(),
                f => f
                    .apply(&d.source)
                    .map(|r| r.get().to_string())
                    .unwrap_or_default(),
            };
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response())
        }
        None => Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("Document not found [{index}]/[{id}]"),
        )),
    }
}

pub async fn exists_source(state: State<AppState>, path: Path<(String, String)>) -> ApiResult {
    exists(state, path).await
}

#[derive(Serialize)]
struct MgetResponse<'a> {
    docs: Vec<MgetItem<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum MgetItem<'a> {
    Doc(GetResponse<'a>),
    Error {
        _index: String,
        _id: String,
        error: Value,
    },
}

async fn mget_impl(
    s: AppState,
    default_index: Option<String>,
    p: Params,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body)?.ok_or_else(|| {
        EsError::action_request_validation("Validation Failed: 1: no documents to get;")
    })?;
    let default_filter = SourceFilter::from_params(&p);
    // (index, id, filter)
    let mut wanted: Vec<(String, String, SourceFilter)> = Vec::new();
    if let Some(docs) = body.get("docs").and_then(Value::as_array) {
        for d in docs {
            let index = d
                .get("_index")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(default_index.clone());
            let Some(index) = index else {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: index is missing for doc 0;",
                ));
            };
            let id = match d.get("_id") {
                Some(Value::String(s)) => s.clone(),
                Some(v) if !v.is_null() => v.to_string(),
                _ => {
                    return Err(EsError::action_request_validation(
                        "Validation Failed: 1: id is missing for doc 0;",
                    ));
                }
            };
            let filter = match d.get("_source") {
                Some(v) => SourceFilter::from_json(v).map_err(EsError::parsing)?,
                None => default_filter.clone(),
            };
            wanted.push((index, id, filter));
        }
    } else if let Some(ids) = body.get("ids").and_then(Value::as_array) {
        let Some(index) = default_index.clone() else {
            return Err(EsError::action_request_validation(
                "Validation Failed: 1: index is missing for doc 0;",
            ));
        };
        for id in ids {
            let id = id
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| id.to_string());
            wanted.push((index.clone(), id, default_filter.clone()));
        }
    } else {
        return Err(EsError::parsing(
            "unknown parameter: request body must contain [docs] or [ids]",
        ));
    }
    // One query per index.
    let mut by_index: HashMap<String, Result<HashMap<String, StoredDoc>, EsError>> = HashMap::new();
    // Indices that keep no `_source` (index.mapping.source.mode: disabled).
    let mut no_source: std::collections::HashSet<String> = Default::default();
    for (index, _, _) in &wanted {
        if by_index.contains_key(index) {
            continue;
        }
        let ids: Vec<String> = wanted
            .iter()
            .filter(|w| &w.0 == index)
            .map(|w| w.1.clone())
            .collect();
        // Each item is authorized on its own index (the path only names the default one): an
        // item the principal may not read is that item's 403, as Elasticsearch's per-shard
        // authorization of `indices:data/read/mget[shard]` answers it.
        let r = match crate::security::check_index(index) {
            Err(e) => Err(e),
            Ok(()) => s.catalog.require_single(index).await,
        };
        let r = match r {
            Ok(meta) => {
                if !meta.source_shown() {
                    no_source.insert(index.clone());
                }
                fetch_docs(&s, &meta, &ids).await
            }
            Err(e) => Err(e),
        };
        by_index.insert(index.clone(), r);
    }
    let docs = wanted
        .iter()
        .map(|(index, id, filter)| match &by_index[index] {
            Ok(found) if no_source.contains(index) => {
                MgetItem::Doc(get_body(index, id, found.get(id), &SourceFilter::None))
            }
            Ok(found) => MgetItem::Doc(get_body(index, id, found.get(id), filter)),
            Err(e) => MgetItem::Error {
                _index: index.clone(),
                _id: id.clone(),
                error: e.body(),
            },
        })
        .collect();
    Ok(raw_json(StatusCode::OK, &MgetResponse { docs }))
}

pub async fn mget(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    mget_impl(s, Some(index), p, body).await
}

pub async fn mget_all(
    State(s): State<AppState>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    mget_impl(s, None, p, body).await
}

fn check_write_params(p: &Params) -> Result<(), EsError> {
    if p.contains_key("version") || p.contains_key("version_type") {
        return Err(EsError::unsupported(
            "external versioning (version / version_type)",
        ));
    }
    Ok(())
}

fn forced_refresh(p: &Params) -> bool {
    matches!(
        p.get("refresh").map(String::as_str),
        Some("") | Some("true")
    )
}

/// Runs one write and answers like the single-document APIs do.
async fn one(s: &AppState, index: &str, mut op: WriteOp, p: &Params) -> ApiResult {
    check_write_params(p)?;
    crate::catalog::validate_index_name(index)?;
    if flag(p, "require_alias")? && !s.catalog.is_alias(index).await? {
        return Err(super::aliases::require_alias_error(index));
    }
    // Ingest pipelines (request `pipeline`, index.default_pipeline / final_pipeline).
    let mut ingest = super::ingest::Ingest::load(s).await?;
    // A failed document may go to its data stream's failure store (failure_store.rs).
    let mut failures = super::failure_store::Redirect::default();
    let mut results = match ingest
        .prepare_op(s, index, &mut op, p.get("pipeline").map(String::as_str))
        .await
    {
        Ok(super::ingest::OpOutcome::Write(i)) => {
            failures.writing(s, 0, &i, &op).await?;
            write::apply(s, &i, vec![op]).await?
        }
        Ok(super::ingest::OpOutcome::Dropped) => {
            let body = super::ingest::dropped_body(index, op.id.as_deref());
            return Ok(EsJson(StatusCode::OK, body).into_response());
        }
        Err(e) => {
            let origin = ingest.take_failure();
            failures.ingest_failed(s, 0, index, &op, &e, origin).await?;
            vec![write::WriteResult {
                index: index.to_string(),
                id: op.id.clone().unwrap_or_default(),
                outcome: Err(e),
            }]
        }
    };
    let used = !failures.is_idle()
        && failures.settle(s, &mut results).await[0] == Some(super::failure_store::Status::Used);
    let r = results.pop().expect("one result");
    match &r.outcome {
        Ok(_) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::OK);
            let mut body = r.body(forced_refresh(p));
            if used {
                body["failure_store"] = serde_json::json!("used");
            }
            Ok(EsJson(status, body).into_response())
        }
        Err(e) => Err(e.clone()),
    }
}

fn seq_params(p: &Params) -> Result<(Option<u64>, Option<u64>), EsError> {
    let num = |k: &str| -> Result<Option<u64>, EsError> {
        p.get(k)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    EsError::illegal_argument(format!("Failed to parse [{k}] with value [{v}]"))
                })
            })
            .transpose()
    };
    Ok((num("if_seq_no")?, num("if_primary_term")?))
}

fn op_type(p: &Params, default: OpType) -> Result<OpType, EsError> {
    match p.get("op_type").map(String::as_str) {
        None => Ok(default),
        Some("index") => Ok(OpType::Index),
        Some("create") => Ok(OpType::Create),
        Some(o) => Err(EsError::illegal_argument(format!(
            "opType must be 'create' or 'index', found: [{o}]"
        ))),
    }
}

pub async fn index_auto_id(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    require_body(&body)?;
    let op = WriteOp {
        op: op_type(&p, OpType::Index)?,
        id: None,
        source: Some(body.to_vec()),
        update: None,
        if_seq_no: None,
        if_primary_term: None,
    };
    one(&s, &index, op, &p).await
}

fn require_body(body: &Bytes) -> Result<(), EsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: source is missing;2: content type is missing;",
        ));
    }
    Ok(())
}

pub async fn index_with_id(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    require_body(&body)?;
    let (if_seq_no, if_primary_term) = seq_params(&p)?;
    let op = WriteOp {
        op: op_type(&p, OpType::Index)?,
        id: Some(id),
        source: Some(body.to_vec()),
        update: None,
        if_seq_no,
        if_primary_term,
    };
    one(&s, &index, op, &p).await
}

pub async fn create(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    require_body(&body)?;
    let op = WriteOp {
        op: OpType::Create,
        id: Some(id),
        source: Some(body.to_vec()),
        update: None,
        if_seq_no: None,
        if_primary_term: None,
    };
    one(&s, &index, op, &p).await
}

pub async fn update(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body)?.ok_or_else(|| {
        EsError::action_request_validation("Validation Failed: 1: script or doc is missing;")
    })?;
    let Value::Object(m) = body else {
        return Err(EsError::parsing("request body must be an object"));
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "doc"
                | "upsert"
                | "doc_as_upsert"
                | "detect_noop"
                | "scripted_upsert"
                | "script"
                | "_source"
        ) {
            return Err(EsError::x_content_parse(format!(
                "[1:2] [UpdateRequest] unknown field [{k}]"
            )));
        }
    }
    let (if_seq_no, if_primary_term) = seq_params(&p)?;
    let op = WriteOp {
        op: OpType::Update,
        id: Some(id),
        source: None,
        update: Some(m),
        if_seq_no,
        if_primary_term,
    };
    let _ = flag(&p, "refresh");
    one(&s, &index, op, &p).await
}

pub async fn delete(
    State(s): State<AppState>,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> ApiResult {
    let (if_seq_no, if_primary_term) = seq_params(&p)?;
    let op = WriteOp {
        op: OpType::Delete,
        id: Some(id.clone()),
        source: None,
        update: None,
        if_seq_no,
        if_primary_term,
    };
    check_write_params(&p)?;
    let mut results = write::apply(&s, &index, vec![op]).await?;
    let r = results.pop().expect("one result");
    match &r.outcome {
        // A delete that finds nothing answers 404 with the usual body (result: not_found).
        Ok(_) => Ok(EsJson(
            StatusCode::from_u16(r.status()).unwrap_or(StatusCode::OK),
            r.body(forced_refresh(&p)),
        )
        .into_response()),
        Err(e) => Err(e.clone()),
    }
}
